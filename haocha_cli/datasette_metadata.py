"""Datasette metadata (``haocha datasette-metadata``): titles and descriptions in Chinese for the database, its
tables, the views of migration 11 (v_ratings, v_cases, v_county_month) and their columns, in the metadata.json
format of Datasette 0.x (``datasette -m metadata.json``; docs/datasette.md).

The tables that hold personal data or secrets, and the raw tables the views stand for, are ``hidden``: left
off the database page. Hidden is not access control — Datasette still serves a hidden table to whoever asks
for its address, and its SQL box reads every table — which is why docs/datasette.md serves a copy with the
personal data taken out, read-only, on the city's network only.
"""

from __future__ import annotations

from typing import Any

from haocha_cli.context import Context

# name -> (title, description, columns). Every column of these tables and views is described.
_VISIBLE: dict[str, tuple[str, str, dict[str, str]]] = {
    "v_ratings": ("评价（名称版）", "每条评价一行，区县局、窗口、事项、评价等级以名称显示。不含电话、联系人编号、工作人员、"
                  "办件编号、二维码令牌和文字评价（文字评价可能含电话号码，视图无法脱敏，请在工作台或报告中查看）。", {
        "id": "评价在本库中的序号", "source": "评价来源（评价渠道的来源名，serve 为评价页面）",
        "rating_id": "评价编号（来源内唯一）", "batch_id": "导入批次号", "rated_at": "评价时间（北京时间）",
        "day": "评价日期", "county_code": "区县局行政区划代码", "county_name": "区县局",
        "window_code": "窗口编码", "window_name": "窗口名称", "mode_name": "办理方式：线下窗口或网上办理",
        "channel": "评价渠道（PC端、移动服务端、二维码、政务大厅平板电脑、政务大厅其他终端、电话、短信）",
        "item_code": "事项编码（来源未给出时为空）", "item_name": "事项名称",
        "level": "满意度等级代码：5 非常满意 … 1 非常不满意", "level_name": "满意度",
        "rating_index": "该条评价的满意指数（0–100，按指标权重加权）", "weights_version": "计算所用的指标体系版本",
        "rating_round": "评价次数：1 首次评价，2 追评", "real_name": "实名评价：1 是，0 匿名",
        "problems": "评价人勾选的差评问题（指标编码与名称）",
        "counted": "是否计入统计：1 计入，0 已剔除", "excluded_reason": "剔除原因（申诉成立、评价信息不实）",
    }),
    "v_cases": ("整改事项（名称版）", "每条差评一件整改事项，状态、分类以中文显示，含回访和整改期限。不含电话、联系人编号、"
                "工作人员和各类文字说明（分类理由、回访备注、整改措施、责任人）。overdue 按北京时间当天计算。", {
        "id": "整改事项编号", "rating_id": "对应评价在本库中的序号（v_ratings.id）",
        "county_code": "区县局行政区划代码", "county_name": "区县局", "window_code": "窗口编码", "window_name": "窗口名称",
        "item_code": "事项编码", "item_name": "事项名称", "level": "满意度等级代码", "level_name": "满意度",
        "problems": "差评问题（指标编码与名称）", "real_name": "实名差评：1 是（需回访），0 匿名",
        "rated_at": "评价时间，期限从此起算", "state": "状态代码", "state_name": "状态",
        "classification_name": "分类：可整改、无法整改、无需整改", "classified_at": "分类时间",
        "revisit_due": "回访期限（实名差评）", "revisit_first_at": "首次回访时间", "revisit_outcome": "最近一次回访结果",
        "rectify_days": "整改时限（工作日）", "rectify_due": "整改期限（最后一个工作日）", "resolved_at": "办结时间",
        "on_time": "按时办结：1 是，0 超期", "rerate_level": "整改复评结果：满意、基本满意、不满意",
        "rerated_at": "复评时间", "rerate_source": "复评方式：评价人追评或电话复评",
        "reopen_count": "复评不满意后重新整改的次数",
        "overdue": "已超期：1 未办结且已过整改期限", "opened_at": "立案时间", "updated_at": "最近更新时间",
    }),
    "v_county_month": ("区县局月度评价结果", "每个区县局每月一行，来自每日汇总（只含计入统计的评价）。好评 = 非常满意 + 满意，"
                       "差评 = 不满意 + 非常不满意；比率为百分数，满意指数 = 各条评价满意指数之和 ÷ 评价数，均保留两位小数。", {
        "county_code": "区县局行政区划代码", "county_name": "区县局", "month": "月份（YYYY-MM）",
        "n": "评价数 N（计入统计的）", "good": "好评数", "bad": "差评数", "basic": "基本满意数",
        "good_rate": "好评率（%）", "bad_rate": "差评率（%）", "basic_share": "基本满意占比（%）",
        "satisfaction_index": "满意指数（0–100）", "excluded_n": "已剔除的评价数（不计入上列数字）",
    }),
    "counties": ("区县局", "市局所辖区县局（县级局），以行政区划代码为编号。", {
        "code": "行政区划代码", "name": "名称", "city_code": "所属市代码", "risk_level": "风险等级（low 低 / medium 中 / high 高，"
        "决定抽查比例）", "created_at": "录入时间",
    }),
    "windows": ("窗口", "各区县局的政务服务窗口和网上办理渠道，每个窗口一个二维码。", {
        "code": "窗口编码", "name": "窗口名称", "county_code": "所属区县局", "kind": "类型：offline 实体窗口，online 网上渠道",
        "opening_hours": "办公时间", "active": "在用：1 是，0 已撤销", "deactivated_at": "撤销时间", "created_at": "录入时间",
    }),
    "items": ("服务事项", "服务事项清单：烟草专卖零售许可证新办、延续、变更等，含法定和承诺办理时限。", {
        "code": "事项编码", "name": "事项名称", "legal_days": "法定办理时限（工作日）",
        "promised_days": "承诺办理时限（工作日）", "active": "在用：1 是，0 停用", "created_at": "录入时间",
        "impl_code": "实施编码（全国一体化政务服务平台的事项实施编码）", "item_type": "事项类型（如行政许可）",
        "windows": "办理窗口（窗口编码，逗号分隔；空：未列出）",
    }),
    "service_standards": ("服务标准清单", "每个服务事项在各类窗口应达到的服务标准，及其适用的评价指标。", {
        "item_code": "事项编码", "window_kind": "窗口类型：offline 实体窗口，online 网上渠道，all 全部",
        "indicator_code": "适用指标编码（空：不针对某一指标）", "standard": "服务标准内容",
        "promised_days": "承诺时限（工作日）", "materials": "申请材料数",
    }),
    "responsibilities": ("问题责任清单", "各评价指标（差评问题）在各类窗口由哪个岗位、哪个部门负责；差评立案时据此确定责任岗位。", {
        "indicator_code": "指标编码", "window_kind": "窗口类型：offline 实体窗口，online 网上渠道，all 全部",
        "post": "责任岗位", "department": "责任部门",
    }),
    "indicators": ("评价指标", "各版本指标体系用过的全部二级指标（编码含义在各版本中不变）；默认 V1.0 为 5 个一级指标、12 个二级指标。", {
        "code": "指标编码", "primary_name": "一级指标", "primary_en": "一级指标（英文）", "name": "二级指标",
        "name_en": "二级指标（英文）", "scope": "适用渠道：offline 线下，online 网上，common 共同关注",
        "description": "指标说明",
    }),
    "indicator_versions": ("指标体系版本", "各版指标体系及其启用日期（9999-12-31：已导入、未启用）；method 为导入的指标体系文件。", {
        "version": "版本号", "active_from": "启用日期", "created_at": "创建时间", "method": "优先矩阵输入（JSON）",
        "note": "说明",
    }),
    "indicator_dimensions": ("指标体系一级指标", "各版本指标体系的一级指标（维度），按导入文件的顺序。", {
        "version": "指标体系版本", "code": "一级指标编码", "name": "一级指标", "name_en": "一级指标（英文）",
        "position": "顺序",
    }),
    "indicator_defs": ("指标体系二级指标", "各版本指标体系的二级指标：所属一级指标、适用渠道、说明和优先矩阵评分；同一编码在各版本中含义不变。", {
        "version": "指标体系版本", "code": "指标编码", "dimension_code": "一级指标编码", "name": "二级指标",
        "name_en": "二级指标（英文）", "scope": "适用渠道：offline 线下，online 网上，common 共同关注",
        "description": "指标说明", "scores": "各准则评分（JSON，按准则顺序）", "position": "顺序",
    }),
    "indicator_weights": ("指标权重", "各版本、各渠道的指标优先度和权重（同一版本同一渠道的权重之和为 1）。", {
        "version": "指标体系版本", "mode": "渠道：offline 线下，online 网上", "indicator_code": "指标编码",
        "priority": "优先度", "weight": "权重",
    }),
    "daily_agg": ("每日汇总", "每日、每个窗口、事项和评价渠道的评价数与各等级数，指数和报告均由此计算（只含计入统计的评价）。", {
        "day": "日期", "window_code": "窗口编码", "item_code": "事项编码", "channel": "评价渠道", "county_code": "区县局代码",
        "mode": "渠道：offline 线下，online 网上", "n": "评价数", "l1": "非常不满意数", "l2": "不满意数",
        "l3": "基本满意数", "l4": "满意数", "l5": "非常满意数", "index_sum": "满意指数之和", "index_sq": "满意指数平方和",
        "excluded_n": "已剔除的评价数", "part": "写入分段：0，或分段写入的批次号（同一汇总键可有多行，均须相加）",
    }),
    "daily_indicator_agg": ("每日指标汇总", "每日、每个窗口、事项、渠道和指标的评分合计（只含实际给出的评分）。", {
        "day": "日期", "window_code": "窗口编码", "item_code": "事项编码", "channel": "评价渠道",
        "indicator_code": "指标编码", "county_code": "区县局代码", "mode": "渠道：offline 线下，online 网上",
        "n": "评分数", "score_sum": "评分之和（1–5）", "score_sq": "评分平方和", "level_sum": "总体等级之和",
        "level_sq": "总体等级平方和", "cross_sum": "评分与总体等级乘积之和（用于相关分析）",
        "part": "写入分段：0，或分段写入的批次号（同一汇总键可有多行，均须相加）",
    }),
    "batches": ("导入批次", "每个导入的评价文件一行：来源、格式、读入、接收、拒收和重复的行数，撤回情况。", {
        "id": "批次号", "file_name": "文件名", "sha256": "文件的 SHA-256", "source": "来源", "profile": "导入配置",
        "format": "文件格式", "encoding": "文字编码", "level_scale": "满意度代码方向", "operator": "导入时的角色",
        "imported_at": "导入时间", "rows_read": "读入行数", "accepted": "接收数", "rejected": "拒收数",
        "duplicate": "重复数", "ignored_columns": "未使用的列（JSON）", "header": "文件表头（JSON）",
        "withdrawn_at": "撤回时间", "withdrawn_by": "撤回人", "withdraw_reason": "撤回原因",
        "staged": "1：分段写入（导入时不长时间锁库），其汇总行的写入分段为本批次号",
    }),
    "calendar_overrides": ("工作日调整", "本地录入的节假日和调休工作日，优先于国家法定节假日安排。", {
        "day": "日期", "is_workday": "1 工作日，0 休息日", "note": "说明", "created_at": "录入时间", "operator": "录入角色",
    }),
    "samples": ("抽查样本", "市局每期抽查回访的样本：随机种子和抽样比例均有记录，可重现。", {
        "id": "样本号", "period": "统计期", "date_from": "起始日", "date_to": "截止日", "version": "同期第几版",
        "seed": "随机种子", "settings": "抽样设置（JSON）", "operator": "抽样角色", "created_at": "抽样时间",
    }),
    "risks": ("风险登记（FMEA）", "闭环各环节的失效模式，严重度 S、频度 O、探测度 D 各 1–10。", {
        "code": "编号", "step": "环节", "failure_mode": "失效模式", "effect": "后果", "cause": "原因",
        "controls": "现有控制", "severity": "严重度 S", "occurrence": "频度 O", "detection": "探测度 D",
        "measure": "频度依据的实测比率", "created_at": "登记时间", "updated_at": "更新时间",
    }),
    "risk_assessments": ("风险评估", "每次 risk assess 对各区县局、各失效模式的评估结果。", {
        "run": "评估批次（审计事件号）", "period": "统计期", "county_code": "区县局代码", "risk_code": "失效模式编号",
        "measure": "实测比率名称", "rate": "实测比率", "severity": "严重度 S", "occurrence": "频度 O",
        "detection": "探测度 D", "rpn": "风险顺序数 RPN = S × O × D", "ap": "措施优先级 H/M/L", "assessed_at": "评估时间",
    }),
    "service_volumes": ("办件量", "许可系统导出的每日、每窗口、每事项办件量（volumes import）：主动评价率 = 评价数 ÷ 办件量。", {
        "day": "日期", "window_code": "窗口编码", "item_code": "事项编码", "county_code": "区县局代码",
        "services": "办件量", "imported_at": "导入时间",
    }),
    "window_flags": ("主动评价率提示", "某窗口某月主动评价率远低于本县或较上月骤降，供市局核查（不是结论）。", {
        "id": "编号", "rule": "规则（low_rating_rate 远低于本县，rating_rate_drop 骤降）", "county_code": "区县局代码",
        "window_code": "窗口编码", "month": "月份", "evidence": "依据（JSON：评价数、办件量、比率）", "created_at": "提示时间",
    }),
}

# Hidden: personal data (phones, comments, notes, names of people), secrets (password hashes, sessions, the
# key's check value) and the raw tables behind the views.
_HIDDEN: dict[str, tuple[str, str]] = {
    "ratings": ("评价（原始视图）", "含文字评价、联系人编号、工作人员和办件编号：请用 v_ratings。"),
    "rating_rows": ("评价（原始表）", "ratings 视图背后的表，含尚在导入中的批次：请用 v_ratings。"),
    "daily_agg_rows": ("每日汇总（原始表）", "daily_agg 视图背后的表，含尚在导入中的批次：请用 daily_agg。"),
    "daily_indicator_agg_rows": ("每日指标汇总（原始表）",
                                 "daily_indicator_agg 视图背后的表，含尚在导入中的批次：请用 daily_indicator_agg。"),
    "pending_imports": ("进行中的导入", "正在分段写入、尚未生效的导入批次：内部记录。"),
    "cases": ("整改事项（原始表）", "含联系人编号和各类文字说明：请用 v_cases。"),
    "contacts": ("评价人电话", "评价人电话（加密、散列和脱敏形式）：个人信息。"),
    "staff": ("工作人员", "含工作人员电话：个人信息。"),
    "rejects": ("拒收的行", "导入时拒收的原始行，可能含电话和文字评价：个人信息。"),
    "appeals": ("申诉", "申诉理由、证据和复核意见：文字说明可能含个人信息。"),
    "flags": ("可疑评价提示", "可疑评价的规则和依据（含脱敏电话）：内部监督信息。"),
    "spot_checks": ("抽查回访", "抽查回访的结果和备注：备注可能含个人信息。"),
    "audit_events": ("审计日志", "每次变更的前后内容，含各类文字说明：内部记录。"),
    "accounts": ("工作台账号", "工作人员账号和密码散列：机密。"),
    "web_sessions": ("工作台会话", "登录会话的散列和 CSRF 令牌：机密。"),
    "login_failures": ("登录失败记录", "各账号的密码错误记录：内部记录。"),
    "notifications": ("通知", "发给区县局和市局的通知内容和发送记录：内部记录。"),
    "meta": ("系统信息", "数据库的内部设置，含密钥校验值和审计链头。"),
}

_UNKNOWN = "haocha 的元数据未说明此表，默认隐藏（请在 haocha_cli/datasette_metadata.py 中补充说明）。"
_LABELS = {"counties": "name", "windows": "name", "items": "name", "indicators": "name"}
_FACETS = {"v_cases": ["county_name", "state_name"], "v_county_month": ["county_name", "month"]}
DEFAULT_GOOD = ["非常满意", "满意"]
DEFAULT_BAD = ["不满意", "非常不满意"]


def metadata(ctx: Context, database: str | None = None) -> dict[str, Any]:
    """The metadata of the database at ``ctx.db_path``, named ``database`` in Datasette (by default the file's
    name without .db, as Datasette names it). Every table and view found in the database is there: a table
    this module does not describe is hidden."""
    from haocha_cli.db import get_meta

    name = database or ctx.db_path.stem
    bureau = get_meta(ctx.db, "city_bureau_name") or ctx.config["bureau_name"]
    found = [r[0] for r in ctx.db.execute(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
        " ORDER BY type DESC, name")]
    tables: dict[str, Any] = {}
    for table in found:
        if table in _VISIBLE:
            title, description, columns = _VISIBLE[table]
            entry: dict[str, Any] = {"title": title, "description": description, "columns": dict(columns)}
            if table in _LABELS:
                entry["label_column"] = _LABELS[table]
            if table in _FACETS:
                entry["facets"] = list(_FACETS[table])
        else:
            title, description = _HIDDEN.get(table, (table, _UNKNOWN))
            entry = {"title": title, "description": description, "hidden": True}
        tables[table] = entry
    if "v_county_month" in tables and (ctx.config["good_levels"] != DEFAULT_GOOD
                                       or ctx.config["bad_levels"] != DEFAULT_BAD):
        tables["v_county_month"]["description"] += (
            f"注意：本局 haocha.toml 的好评为 {'、'.join(ctx.config['good_levels'])}，差评为 "
            f"{'、'.join(ctx.config['bad_levels'])}，与本视图的默认口径不同，以 haocha index 的结果为准。")
    return {
        "title": f"{bureau} 好差评数据",
        "description": "政务服务好差评的评价、整改事项和汇总数据（只读）。请从 v_ratings、v_cases、v_county_month 三个视图看起："
                       "它们以名称代替编码，不含电话和文字评价。含个人信息的表已隐藏；隐藏不等于保护，见 docs/datasette.md。",
        "databases": {name: {
            "title": f"{bureau} 好差评数据库",
            "description": "评价、整改事项、每日汇总和组织机构目录。比率、指数的口径见 haocha 的 docs/method.md。",
            "tables": tables,
        }},
    }
