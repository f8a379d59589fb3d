"""What the terminal tables show the bureau: a Chinese header for every key a listing prints, and each value
as a clerk reads it (rates as percentages, indices with one decimal, lists as ``a, b``, 是/否).

The keys themselves stay English in JSON and CSV, which programs and spreadsheets read; only the terminal
table (``render`` in haocha_cli/commands/_common.py) goes through here. A key without a header here is shown
as it is, and tests/test_table_labels.py fails on it: every listing's keys are in ``HEADERS``.

A header may carry one ``|``: where it may go onto a second line when the table would not fit the terminal
on one (never inside a word); ``header()`` gives it without the mark."""

from __future__ import annotations

import json
import math
import re
from typing import Any

HEADERS: dict[str, str] = {
    # the catalogue (org show, staff, qr)
    "code": "编码", "name": "名称", "county": "县级局|代码", "county_code": "县级局|代码", "county_name": "县级局",
    "window": "窗口编码", "window_code": "窗口编码", "window_name": "窗口名称", "item": "事项编码",
    "item_code": "事项编码", "item_name": "事项名称", "kind": "类型", "opening_hours": "办公时间", "active": "启用",
    "risk_level": "风险等级", "windows": "窗口数", "legal_days": "法定时限", "promised_days": "承诺时限",
    "phone": "联系电话", "staff_code": "工作人员编码", "username": "用户名", "role": "角色", "role_name": "角色名称",
    "must_change": "须改密码", "locked_until": "锁定至", "last_login": "最近登录", "payload": "二维码内容",
    "files": "文件",
    # the indicator system and its weights
    "indicator": "指标", "indicator_name": "指标名称", "primary": "一级指标", "primary_name": "一级指标",
    "scope": "适用范围", "weight_offline": "线下权重", "weight_online": "网上权重", "weight": "权重",
    "priority": "优先度", "computation": "计算过程", "criterion": "准则", "given": "给定值", "row_total": "行合计",
    "version": "版本", "active_from": "启用日期", "r": "相关系数", "suggested_score": "建议评分",
    "dimensions": "一级|指标数", "indicators": "二级|指标数",
    # indices, rankings, benchmarking, the pilot, control charts
    "unit": "统计单位", "n": "评价数", "index": "满意指数", "good_rate": "好评率", "bad_rate": "差评率",
    "basic_share": "基本满意|占比", "good": "好评数", "bad": "差评数", "excluded_n": "剔除数", "rank": "名次",
    "shrunk": "收缩得分", "previous_index": "上期|满意指数", "change": "较上期", "mean_score": "平均分",
    "best_county": "标杆|县级局", "best_index": "标杆|满意指数", "gap_to_best": "与标杆|差距",
    "city_index": "全市|满意指数", "gap_to_city": "与全市|差距", "weakest": "最弱指标",
    "min_n_reached": "达到|最小样本", "scored_counties": "有评分|县级局", "reached": "达到最小|样本的县级局",
    "best_n": "标杆|评分数", "day": "日期", "week": "周",
    "services": "办件量", "rating_rate": "主动|评价率", "compared_rate": "对比|评价率", "rule_name": "规则名称",
    "staff": "工作人员|编码", "staff_name": "工作人员", "min_n": "最小样本",
    "month": "月份", "channel": "渠道", "mode": "服务方式", "comparison": "比较", "ci_low": "置信下限",
    "ci_high": "置信上限", "p_value": "p 值", "value": "值", "cl": "中心线", "lcl": "下控制限", "ucl": "上控制限",
    "phase": "阶段", "signals": "判异信号", "label": "样本点", "mr": "移动极差", "mr_signals": "移动极差|判异信号",
    # rectification cases (整改事项) and their rates
    "id": "编号", "case": "整改事项", "case_id": "整改事项", "case_state": "整改状态", "level": "评价等级",
    "rated_at": "评价时间", "state": "状态", "state_name": "状态名称", "real_name": "实名|差评",
    "revisit": "回访", "revisit_due": "回访期限", "rectify_due": "整改期限", "workdays_left": "剩余|工作日",
    "alert": "提示", "cases": "整改|事项数", "due": "应整改", "closed": "已整改", "closed_on_time": "按时|整改",
    "overdue": "已超期", "rectify_rate": "整改率", "on_time_rate": "按时|整改率", "revisited": "已回访",
    "revisit_rate": "实名差评|回访率", "rerated": "已复评", "rerate_satisfied": "复评|满意",
    "rerate_satisfaction": "复评|满意率", "rerated_followup": "追评|复评", "rerate_satisfied_followup": "追评复评|满意",
    "rerate_satisfaction_followup": "追评复评|满意率", "rerated_phone": "电话|复评",
    "rerate_satisfied_phone": "电话复评|满意", "rerate_satisfaction_phone": "电话复评|满意率",
    "rerate_source": "复评来源", "rerate_source_name": "复评来源名称", "rerate_caller": "回访人",
    "rerate_rating_id": "追评序号",
    "cases_rerated": "追评复评整改事项", "followup_level": "追评等级",
    "reopened": "重新|整改", "appeals_filed": "申诉",
    "appeals_upheld": "申诉|支持", "rating_id": "评价序号", "classification": "分类",
    "classification_name": "分类名称", "classify_reason": "分类理由", "classified_at": "分类时间",
    "revisit_days": "回访时限（工作日）", "revisit_first_at": "首次回访时间", "revisit_reached": "回访联系上",
    "revisit_outcome": "回访结果", "revisit_note": "回访记录", "rectify_days": "整改时限（工作日）",
    "rectify_from": "整改起算日", "calendar_note": "日历说明", "measures": "整改措施", "responsible": "责任人",
    "closed_at": "整改完成时间", "resolved_at": "办结时间", "on_time": "按时", "rerate_level": "复评等级",
    "rerated_at": "复评时间", "reopen_count": "重新整改次数", "opened_at": "立案时间", "updated_at": "更新时间",
    "allowed": "现可执行的操作", "problems": "差评问题", "actions": "操作", "result": "结果",
    "rating.source": "评价来源", "rating.rating_id": "评价编号", "rating.rated_at": "评价时间",
    "rating.channel": "评价渠道", "rating.mode": "服务方式", "rating.level": "评价等级",
    "rating.rating_index": "单条满意指数", "rating.scores": "指标评分", "rating.problems": "差评问题",
    "rating.case_no": "办件编号", "rating.rating_round": "评价轮次", "rating.comment": "文字评价",
    "rating.anonymous": "匿名", "rating.excluded": "剔除原因", "rating.excluded_at": "剔除时间",
    "rating.phone_masked": "联系电话",
    # appeals (申诉)
    "reason": "原因", "evidence": "依据", "state_before": "申诉前状态", "filed_by": "申诉人", "filed_at": "申诉时间",
    "decision": "决定", "decision_reason": "决定理由", "decided_by": "决定人", "decided_at": "决定时间",
    # the audit trail and case history
    "at": "时间", "person": "操作人", "operator": "角色", "action": "操作", "entity": "对象", "entity_id": "对象编号",
    "before": "变更前", "after": "变更后", "anchor": "审计锚点", "event_id": "事件编号", "hash": "哈希值",
    # oversight: flags, spot-checks, risks
    "rule": "规则", "rating": "评价序号", "source_id": "评价编号", "excluded": "剔除原因", "new_flags": "新增标记",
    "sample": "样本", "outcome": "结果", "consequence": "后续处理", "period": "统计期", "seed": "随机种子",
    "date_from": "起始日期", "date_to": "截止日期", "checks": "抽查数", "pending": "待核查", "confirmed": "属实",
    "failed": "不属实", "unreachable": "无法联系", "pass_rate": "通过率", "closed_rate": "办结件|抽查比例",
    "no_action": "无需整改", "flagged": "可疑评价", "closed_case": "办结件", "closed_case_pool": "办结件|总数",
    "very_satisfied": "非常满意", "very_satisfied_pool": "非常满意|总数", "failure_mode": "失效模式",
    "severity": "严重度", "occurrence": "频度", "detection": "探测度", "rpn": "RPN", "ap": "措施优先级",
    "measure": "测量依据", "risk": "风险编号", "rate": "测量值", "o_from": "频度来源", "S": "严重度", "O": "频度",
    "D": "探测度", "RPN": "RPN", "AP": "措施|优先级", "step": "环节", "effect": "后果", "cause": "原因",
    "controls": "现行控制",
    # imports and batches
    "batch": "批次", "file": "文件", "file_name": "文件名", "imported_at": "导入时间", "format": "格式",
    "encoding": "文件编码", "profile": "导入配置", "source": "来源", "level_scale": "等级量表",
    "levels_by_code": "按代码读取的等级", "rows_read": "读取行数", "accepted": "接收", "duplicate": "重复",
    "rejected": "拒收", "staged": "分段写入（导入时不长时间锁库）", "cases_opened": "新开整改事项", "flags_raised": "新增可疑标记",
    "qr_tokens_not_verified": "未验证的二维码令牌", "qr_tokens_old": "旧版二维码令牌", "ignored_columns": "忽略的列", "status": "状态",
    "rejects_restored": "按退回行号还原的行",
    "sha256": "SHA-256 校验值", "withdrawn": "撤回时间", "withdrawn_at": "撤回时间", "withdrawn_by": "撤回人",
    "withdraw_reason": "撤回原因", "line": "行号", "row": "行", "rows": "行数", "count": "行数",
    "meaning": "含义", "example": "示例",
    # status, configuration, calendar, notifications
    "field": "项目", "database": "数据库", "size_mb": "大小（MB）", "wal_mb": "WAL 大小（MB）", "schema": "数据库版本",
    "key_file": "密钥文件", "today": "今天", "ratings": "评价数", "rated_from": "最早评价", "rated_to": "最晚评价",
    "batches": "批次数", "withdrawn_batches": "已撤回批次", "last_import": "最近导入", "import_running": "正在导入", "open_cases": "未办结整改事项",
    "due_soon": "即将到期", "revisits_late": "回访超时", "waiting_for_city": "待市局处理",
    "flags_30_days": "近 30 天可疑标记", "audit_events": "审计事件数", "official_calendar": "法定节假日数据",
    "key": "配置项", "description": "说明", "weekday": "星期", "holiday": "节日", "note": "备注", "target": "接收方",
    "attempts": "尝试次数", "last_error": "最近错误", "created_at": "创建时间", "sent_at": "发送时间",
    "title": "标题", "sent": "已发送", "error": "错误",
    # the three lists: service items (实施编码), service standards, problem → responsible post
    "impl_code": "实施编码", "item_type": "事项类型", "item_windows": "办理窗口", "window_kind": "窗口类型",
    "standard": "服务标准", "materials": "材料数", "indicator_code": "指标", "post": "责任岗位",
    "department": "责任部门", "posts": "全部责任岗位", "added": "新增", "removed": "删除", "unchanged": "未变",
}

# How a value of a key is shown on the terminal. Keys ending in _rate, _share or _satisfaction are rates.
KINDS: dict[str, str] = {
    **dict.fromkeys(("index", "shrunk", "previous_index", "city_index", "best_index", "rating.rating_index"),
                    "index"),
    **dict.fromkeys(("change", "gap_to_best", "gap_to_city"), "change"),
    **dict.fromkeys(("weight", "weight_offline", "weight_online", "priority"), "weight"),
    "rate": "rate", "rerate_satisfaction_followup": "rate", "rerate_satisfaction_phone": "rate", "mean_score": "score", "r": "correlation", "p_value": "p", "size_mb": "mb", "wal_mb": "mb",
    **dict.fromkeys(("active", "anonymous", "rating.anonymous", "on_time", "revisit_reached", "must_change",
                     "real_name", "sent", "min_n_reached"), "yes_no"),
    **dict.fromkeys(("problems", "rating.problems", "rating.scores"), "json"),
    **dict.fromkeys(("value", "key", "given", "row_total"), "plain"),
}
_RATE = re.compile(r"(_rate|_share|_satisfaction)$")
_CJK = re.compile(r"[\u3000-\u9fff\uff00-\uffef]")
NO_FIGURE = "–"  # a figure that cannot be computed (N = 0)


def has_header(key: str) -> bool:
    """Whether the table has a header for ``key`` in the bureau's language (a Chinese key is its own)."""
    return key in HEADERS or bool(_CJK.search(key))


def header(key: str) -> str:
    """The column header of ``key`` (the key itself when it is Chinese already, or unknown)."""
    return HEADERS.get(key, key).replace("|", "")


def header_lines(key: str) -> str:
    """The header on two lines at its ``|`` (if it has one), for a table too wide for the terminal."""
    return HEADERS.get(key, key).replace("|", "\n")


def kind_of(key: str) -> str:
    if key in KINDS:
        return KINDS[key]
    return "rate" if _RATE.search(key) else "auto"


def percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def points(value: float) -> str:
    """A change of a rate, in percentage points (百分点), signed."""
    return signed(value * 100)


def signed(value: float) -> str:
    """A change with its sign and one decimal; a change that rounds to nothing is +0.0, not -0.0."""
    return f"{round(value, 1) + 0.0:+.1f}"


def decimals(value: float | None, digits: int = 2) -> str:
    """A number rounded to ``digits`` decimals, without trailing zeros: 0.19, 197.2, 100."""
    if value is None:
        return NO_FIGURE
    return f"{value:.{digits}f}".rstrip("0").rstrip(".") if digits else f"{value:.0f}"


def shown(value: Any, kind: str = "auto") -> str:
    """``value`` as the terminal table shows it; ``kind`` as ``kind_of`` gives it for its key."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "" if kind in ("auto", "plain", "yes_no", "json") else NO_FIGURE
    if isinstance(value, bool) or (kind == "yes_no" and value in (0, 1)):
        return "是" if value else "否"
    if isinstance(value, (list, tuple)):
        return ", ".join(shown(v, "plain") for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {shown(v, 'plain')}" for k, v in value.items())
    if kind == "json" and isinstance(value, str) and value[:1] in "[{":
        try:
            return shown(json.loads(value), "plain")
        except ValueError:
            return value
    if not isinstance(value, (int, float)):
        return str(value)
    if kind == "rate":
        return percent(value)
    if kind == "index":
        return f"{value:.1f}"
    if kind == "change":
        return signed(value)
    if kind == "weight":
        return f"{value:.4f}"
    if kind in ("score", "correlation"):
        return f"{value:.{2 if kind == 'score' else 3}f}"
    if kind == "p":
        return "<0.001" if value < 0.001 else f"{value:.3f}"
    if kind == "mb":
        return f"{value:.1f}"
    if isinstance(value, int):
        return str(value)
    # A setting or given number is shown as written (0.05, 7.5); any other float with two decimals.
    return f"{value:.6g}" if kind == "plain" else f"{value:.2f}"
