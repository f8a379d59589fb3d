"""Notifications (通知) against a webhook receiver on 127.0.0.1 (never the internet): a new bad review tells
its county once, without the phone or the comment; a receiver that is down fails nothing and gets the
message at the next run; the working morning's lists; a test message; grouping; the checks of haocha.toml."""

from __future__ import annotations

import json
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cases_support import add_ratings
from support import ok

from haocha_cli import notify
from haocha_cli.config import load_config

PHONE = "13812345678"
COMMENT = "态度很差请回电13812345678"
HEADER = "评价编号,评价时间,窗口编码,评价渠道,事项编码,满意度,联系电话,文字评价\n"
NOW = "2025-03-03 12:00:00"  # a Monday


class Receiver:
    """A JSON webhook on 127.0.0.1: bound at once (so its port is known), listening only once started; until
    then a connection is refused, as by a receiver that is down."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        received = self.messages

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                received.append({"path": self.path, **json.loads(self.rfile.read(length))})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
        self.server.server_bind()
        self.port = self.server.server_address[1]
        self.thread: threading.Thread | None = None

    def url(self, path: str = "hook") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def start(self) -> Receiver:
        self.server.server_activate()
        # a short poll: shutdown() waits for it (0.5 s by default, at every test's end)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()
        return self

    def close(self) -> None:
        if self.thread is not None:
            self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def configure(db_path, text: str) -> None:
    (db_path.parent / "haocha.toml").write_text(text, encoding="utf-8")


def licang(db_path, receiver, *, city: bool = False, base: bool = True) -> None:
    configure(db_path, (
        ('[serve]\nbase_url = "https://haocha.example.gov.cn"\n' if base else "")
        + "[notify]\n"
        + (f'city = ["{receiver.url("city")}"]\n' if city else "")
        + f'[notify.counties]\n370213 = ["{receiver.url()}"]\n'))


def write_ratings(tmp_path, *lines: str, name: str = "ratings.csv"):
    path = tmp_path / name
    path.write_text(HEADER + "".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def outbox(db_path) -> list[dict]:
    conn = sqlite3.connect(db_path)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM notifications ORDER BY id")]
    finally:
        conn.close()


def assert_private(message: dict) -> None:
    text = json.dumps(message, ensure_ascii=False)
    for secret in (PHONE, "138****5678", "5678", "态度很差", "请回电"):
        assert secret not in text, (secret, text)


def test_a_bad_review_imported_sends_one_message_without_the_phone(db_path, run, receiver, tmp_path):
    receiver.start()
    licang(db_path, receiver)
    path = write_ratings(tmp_path, f"N1,2025-03-03 10:00:00,LC01,二维码,XK01,非常不满意,{PHONE},{COMMENT}",
                         "N2,2025-03-03 10:05:00,LC01,二维码,XK01,满意,,")
    result = ok(run(NOW, "import", str(path), "--format", "json"))
    assert json.loads(result.stdout)[0]["cases_opened"] == 1
    assert "warning" not in result.stderr
    [message] = receiver.messages
    assert message["path"] == "/hook"
    assert message["title"] == "新差评待处理：案件 #1（李沧区）"
    assert message["message"] == (
        "案件 #1 · 李沧区 · LC01 李沧区局政务服务大厅烟草专卖1号窗口 · 烟草专卖零售许可证新办 · 非常不满意"
        " · 评价时间 2025-03-03 10:00 · 回访期限 2025-03-04 · 整改期限 2025-03-24\n"
        "处理：https://haocha.example.gov.cn/staff/cases/1")
    assert_private(message)
    [row] = outbox(db_path)
    assert (row["kind"], row["target"], row["case_id"], row["status"], row["attempts"], row["sent_at"]) == (
        "case_opened", "370213", 1, "sent", 1, NOW)
    assert receiver.url() not in json.dumps(row)  # the outbox names the county, never the URL
    # The same file again opens nothing and tells nobody again.
    ok(run(NOW, "import", str(path)))
    assert len(receiver.messages) == 1


def test_without_a_base_url_the_message_has_no_link(db_path, run, receiver, tmp_path):
    receiver.start()
    licang(db_path, receiver, base=False)
    ok(run(NOW, "import", str(write_ratings(tmp_path, "N1,2025-03-03 10:00:00,LC01,二维码,XK01,不满意,,"))))
    [message] = receiver.messages
    assert "\n" not in message["message"] and "http" not in message["message"]
    assert "回访期限" not in message["message"]  # anonymous: no return visit is due


def test_a_receiver_that_is_down_fails_nothing_and_gets_the_message_at_the_next_run(db_path, run, receiver,
                                                                                    tmp_path):
    licang(db_path, receiver)
    path = write_ratings(tmp_path, f"N1,2025-03-03 10:00:00,LC01,二维码,XK01,不满意,{PHONE},{COMMENT}")
    result = ok(run(NOW, "import", str(path)))
    assert result.stderr.strip().splitlines()[-1] == (
        "warning: 1 notification could not be sent (李沧区 json://…: A Connection error occurred sending JSON"
        " notification to 127.0.0.1.); they will be retried by haocha notify send")
    assert "Traceback" not in result.stderr
    [row] = outbox(db_path)
    assert (row["status"], row["attempts"], row["sent_at"]) == ("failed", 1, None)
    assert row["last_error"].startswith("json://…: A Connection error")
    # The case is there whatever happened to the message.
    assert json.loads(ok(run(NOW, "cases", "list", "--format", "json")).stdout)[0]["id"] == 1
    listed = json.loads(ok(run(NOW, "notify", "list", "--status", "waiting", "--format", "json")).stdout)
    assert [(r["id"], r["status"], r["attempts"]) for r in listed] == [(1, "failed", 1)]
    to_do = json.loads(ok(run(NOW, "status", "--format", "json")).stdout)["to_do"]
    assert ("1 notification(s) wait to be sent: haocha notify list --status waiting, then haocha notify send"
            in to_do)

    receiver.start()
    result = ok(run("2025-03-03 12:05:00", "notify", "send"))
    assert result.stderr.strip() == "sent 1 message(s), carrying 1 notification(s)"
    [message] = receiver.messages
    assert message["title"] == "新差评待处理：案件 #1（李沧区）"
    assert_private(message)
    [row] = outbox(db_path)
    assert (row["status"], row["attempts"], row["sent_at"]) == ("sent", 2, "2025-03-03 12:05:00")
    result = ok(run("2025-03-03 12:10:00", "notify", "send"))
    assert result.stderr.strip() == "nothing to send"
    assert len(receiver.messages) == 1
    assert ok(run("2025-03-03 12:10:00", "notify", "send", "--quiet")).stderr == ""


def test_a_county_without_a_channel_gets_nothing_queued(db_path, run, receiver, tmp_path):
    receiver.start()
    licang(db_path, receiver)
    ok(run(NOW, "import", str(write_ratings(tmp_path, "N1,2025-03-03 10:00:00,SN01,二维码,XK01,不满意,,"))))
    assert receiver.messages == [] and outbox(db_path) == []


def test_many_new_cases_of_one_county_go_out_as_one_message(db_path, run, receiver, tmp_path):
    receiver.start()
    licang(db_path, receiver)
    lines = [f"G{i:02d},2025-03-03 10:{i:02d}:00,LC01,二维码,XK01,不满意,," for i in range(12)]
    ok(run(NOW, "import", str(write_ratings(tmp_path, *lines))))
    [message] = receiver.messages
    assert message["title"] == "新差评待处理：李沧区 12 件"
    body = message["message"].splitlines()
    assert [line.split(" · ")[0] for line in body[:5]] == ["案件 #1", "案件 #2", "案件 #3", "案件 #4", "案件 #5"]
    assert body[5:] == ["… 另有 7 件", "工作台：https://haocha.example.gov.cn/staff/cases"]
    assert {(r["status"], r["attempts"]) for r in outbox(db_path)} == {("sent", 1)}
    # Ten or fewer go one by one.
    lines = [f"H{i:02d},2025-03-03 11:{i:02d}:00,LC01,二维码,XK01,不满意,," for i in range(3)]
    ok(run(NOW, "import", str(write_ratings(tmp_path, *lines, name="more.csv"))))
    assert [m["title"] for m in receiver.messages[1:]] == [f"新差评待处理：案件 #{n}（李沧区）" for n in (13, 14, 15)]


def test_a_withdrawn_batch_takes_its_waiting_messages_with_it(db_path, run, receiver, tmp_path):
    licang(db_path, receiver)
    ok(run(NOW, "import", str(write_ratings(tmp_path, "N1,2025-03-03 10:00:00,LC01,二维码,XK01,不满意,,"))))
    ok(run(NOW, "batches", "withdraw", "1", "--reason", "导入了错误的文件"))
    # A new case gets the withdrawn one's number: its message is its own, the old one is not sent for it.
    ok(run(NOW, "import", str(write_ratings(tmp_path, "N2,2025-03-03 11:00:00,LC02,二维码,XK01,不满意,,",
                                            name="right.csv"))))
    receiver.start()
    result = ok(run("2025-03-03 12:30:00", "notify", "send"))
    assert result.stderr.strip() == "sent 1 message(s), carrying 1 notification(s)"
    assert [m["message"].split(" · ")[:3] for m in receiver.messages] == [["案件 #1", "李沧区", "LC02 李沧区局政务服务大厅烟草专卖2号窗口"]]
    assert [(r["status"], r["case_id"]) for r in outbox(db_path)] == [("cancelled", 1), ("sent", 1)]


def test_notify_test_sends_a_message_now_and_names_what_is_wrong(db_path, run, receiver):
    licang(db_path, receiver)
    result = run(NOW, "notify", "test", "--county", "370213")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: the test message to 李沧区 could not be sent: json://127.0.0.1:")
    receiver.start()
    rows = json.loads(ok(run(NOW, "notify", "test", "--county", "370213", "--format", "json")).stdout)
    assert [(r["target"], r["sent"]) for r in rows] == [("370213", True)]
    [message] = receiver.messages
    assert message["title"] == "haocha 通知测试（李沧区）"
    assert outbox(db_path) == []  # a test is not queued
    result = run(NOW, "notify", "test", "--county", "370299")
    assert (result.exit_code, result.stderr.splitlines()[0]) == (
        1, "Error: county 370299 does not exist (known counties: 370202 市南区, 370203 市北区, 370211 黄岛区,"
        " 370212 崂山区, 370213 李沧区, 370214 城阳区, 370215 即墨区, 370281 胶州市, 370283 平度市, 370285 莱西市)")
    result = run(NOW, "notify", "test", "--county", "370202")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: 市南区 has no notification channel: notify.counties.370202 is not set in")
    result = run(NOW, "notify", "test", "--city")
    assert result.exit_code == 1 and "notify.city is not set" in result.stderr
    result = run(NOW, "notify", "test")
    assert result.exit_code == 1 and "--county CODE or --city" in result.stderr


def test_the_working_morning_tells_each_county_its_overdue_and_due_soon_cases_and_the_city_a_summary(
        db_path, run, receiver):
    receiver.start()
    licang(db_path, receiver, city=True)
    add_ratings(db_path, [
        # rectification due 2025-03-03: overdue by 03-20
        {"rated_at": "2025-02-10 10:00:00", "window": "LC01", "level": "不满意"},
        # real-name, due 03-24: due soon on 03-20 (two working days), its return visit (03-04) overdue
        {"rated_at": "2025-03-03 10:00:00", "window": "LC02", "level": "非常不满意", "phone": PHONE,
         "comment": COMMENT},
        # due 03-31: neither
        {"rated_at": "2025-03-10 10:00:00", "window": "LC01", "level": "不满意"},
        # another county, no channel: only in the city's summary
        {"rated_at": "2025-02-10 11:00:00", "window": "SN01", "level": "不满意"},
    ])
    assert [(r["kind"], r["target"], r["status"]) for r in outbox(db_path)] == [("case_opened", "370213", "pending")] * 3
    ok(run("2025-03-20 07:00:00", "notify", "send"))  # the new-case messages of the test data
    receiver.messages.clear()

    result = ok(run("2025-03-20 07:30:00", "notify", "daily"))
    assert "queued for 370213, city" in result.stderr
    county, city = sorted(receiver.messages, key=lambda m: m["path"])[::-1]
    assert (county["path"], city["path"]) == ("/hook", "/city")
    assert county["title"] == "整改提醒 2025-03-20（李沧区）：超期 2 件，即将到期 0 件"
    lines = county["message"].splitlines()
    assert lines[0] == "超期 2 件："
    assert lines[1].startswith("案件 #1 · 李沧区 · LC01") and lines[1].endswith("整改期限 2025-03-03（已超期）")
    assert lines[2].startswith("案件 #2 · 李沧区 · LC02") and lines[2].endswith(
        "整改期限 2025-03-24（还剩 2 个工作日） · 回访期限 2025-03-04（回访已超期）")
    assert lines[3:] == ["工作台：https://haocha.example.gov.cn/staff/cases"]
    assert_private(county)
    assert city["title"] == "好差评整改日报 2025-03-20（青岛市）：待办 4 件，超期 3 件，即将到期 0 件"
    assert city["message"].splitlines() == ["市南区：待办 1 件 · 超期 1 件 · 即将到期 0 件",
                                            "李沧区：待办 3 件 · 超期 2 件 · 即将到期 0 件",
                                            "工作台：https://haocha.example.gov.cn/staff/"]
    # Once a morning: again sends nothing new.
    result = ok(run("2025-03-20 08:00:00", "notify", "daily"))
    assert "already queued before for 370213, city" in result.stderr and len(receiver.messages) == 2
    # Due soon: 2025-03-26 is three working days before case 3's deadline (03-31).
    receiver.messages.clear()
    ok(run("2025-03-26 07:30:00", "notify", "daily", "--quiet"))
    county = next(m for m in receiver.messages if m["path"] == "/hook")
    assert county["title"] == "整改提醒 2025-03-26（李沧区）：超期 2 件，即将到期 1 件"
    assert "即将到期 1 件（3 个工作日内）：" in county["message"].splitlines()


def test_nothing_on_a_sunday_unless_forced(db_path, run, receiver):
    receiver.start()
    licang(db_path, receiver, city=True)
    result = ok(run("2025-03-23 07:30:00", "notify", "daily"))
    assert result.stderr.strip() == "2025-03-23 is not a working day: nothing sent (--force sends anyway)"
    assert receiver.messages == [] and outbox(db_path) == []
    ok(run("2025-03-23 07:30:00", "notify", "daily", "--force"))
    # No case at all: the county gets nothing, the city its summary.
    [city] = receiver.messages
    assert city["message"].splitlines()[0] == "全市没有待办的整改案件。"


@pytest.mark.parametrize(("toml", "error"), [
    ('[notify]\ncity = "wecombot://SECRETKEY1"\n', "notify.city must be a list of notification URLs"),
    ('[notify]\ncity = ["foo://SECRETKEY1"]\n', "notify.city entry 1 (foo://…) is not a notification URL apprise accepts"),
    ('[notify.counties]\n370213 = ["json://127.0.0.1:9/ok", "SECRETKEY1"]\n',
     "notify.counties.370213 entry 2 (no scheme://) is not a notification URL apprise accepts"),
    ('[notify.counties]\n370213 = "json://SECRETKEY1"\n', "notify.counties.370213 must be a list of notification URLs"),
    ('[notify]\ncounties = ["json://SECRETKEY1"]\n', "notify.counties must be a table of county codes"),
])
def test_a_bad_channel_setting_is_an_error_naming_the_entry_and_never_the_secret(db_path, run, toml, error):
    configure(db_path, toml)
    result = run(NOW, "notify", "send")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and error in result.stderr, result.stderr
    assert "SECRETKEY1" not in result.stderr and "Traceback" not in result.stderr


def test_an_unknown_county_is_named(db_path, run, receiver):
    configure(db_path, f'[notify.counties]\n370299 = ["{receiver.url()}"]\n')
    result = run(NOW, "notify", "send")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and "notify.counties names unknown county 370299" in result.stderr


def test_config_show_masks_the_keys(db_path, run):
    configure(db_path, '[notify]\ncity = ["wecombot://SECRETKEY1234"]\n'
                       '[notify.counties]\n370213 = ["mailtos://clerk:PASSWORD99@smtp.example.com?to=lc@example.com"]\n')
    rows = {r["key"]: r["value"] for r in json.loads(ok(run(NOW, "config", "show", "--format", "json")).stdout)}
    assert rows["notify.city"] == ["wecombot://S...4/"]
    assert rows["notify.counties"] == {"370213": ["mailtos://clerk:****@smtp.example.com/lc%40example.com"]}
    assert rows["notify.group_over"] == 10


def test_a_county_lists_only_its_own_messages(db_path, run, receiver, tmp_path):
    configure(db_path, f'[notify.counties]\n370213 = ["{receiver.url()}"]\n370202 = ["{receiver.url("sn")}"]\n')
    receiver.start()
    ok(run(NOW, "import", str(write_ratings(tmp_path, "N1,2025-03-03 10:00:00,LC01,二维码,XK01,不满意,,",
                                            "N2,2025-03-03 10:00:00,SN01,二维码,XK01,不满意,,"))))
    assert sorted(m["path"] for m in receiver.messages) == ["/hook", "/sn"]
    mine = json.loads(ok(run(NOW, "notify", "list", "--format", "json", operator="county:370213")).stdout)
    assert [r["target"] for r in mine] == ["370213"]
    result = run(NOW, "notify", "list", "--county", "370202", operator="county:370213")
    assert result.exit_code == 1
    assert len(json.loads(ok(run(NOW, "notify", "list", "--format", "json")).stdout)) == 2
    assert run(NOW, "notify", "send", operator="county:370213").exit_code == 1


def test_delivery_in_a_background_thread_uses_its_own_connection(db_path, receiver):
    """How the rating page sends: after its commit, in a thread, with a connection of its own."""
    receiver.start()
    licang(db_path, receiver)
    add_ratings(db_path, [{"rated_at": "2025-03-03 10:00:00", "window": "LC01", "level": "不满意", "phone": PHONE}])
    config = load_config(db_path=db_path)
    notify.deliver_in_background(db_path, config).join(timeout=30)
    [message] = receiver.messages
    assert message["title"] == "新差评待处理：案件 #1（李沧区）"
    assert [r["status"] for r in outbox(db_path)] == ["sent"]


def test_of_two_channels_the_working_one_gets_it_at_once_and_the_other_when_it_is_back(db_path, run, tmp_path):
    up, down = Receiver().start(), Receiver()
    try:
        configure(db_path, f'[notify.counties]\n370213 = ["{up.url()}", "{down.url()}"]\n')
        result = ok(run(NOW, "import", str(write_ratings(tmp_path, "N1,2025-03-03 10:00:00,LC01,二维码,XK01,不满意,,"))))
        assert "warning: 1 notification could not be sent" in result.stderr
        assert len(up.messages) == 1
        [row] = outbox(db_path)
        assert (row["status"], row["attempts"]) == ("failed", 2)  # one send per channel
        # Still down: cron's --quiet run does not mail the same failure again; the working channel gets nothing twice.
        assert ok(run(NOW, "notify", "send", "--quiet")).stderr == ""
        assert len(up.messages) == 1
        down.start()
        ok(run(NOW, "notify", "send"))
        assert (len(up.messages), len(down.messages)) == (1, 1)
        [row] = outbox(db_path)
        assert (row["status"], row["attempts"]) == ("sent", 4)
    finally:
        up.close()
        down.close()


def test_a_message_whose_county_lost_its_channel_waits_and_says_why(db_path, run, receiver, tmp_path):
    licang(db_path, receiver)
    ok(run(NOW, "import", str(write_ratings(tmp_path, "N1,2025-03-03 10:00:00,LC01,二维码,XK01,不满意,,"))))
    configure(db_path, "")
    result = ok(run(NOW, "notify", "send"))
    assert result.stderr.strip() == ("warning: 1 notification could not be sent (李沧区: no channel in haocha.toml);"
                                     " they will be retried by haocha notify send")
    [row] = outbox(db_path)
    assert (row["status"], row["attempts"]) == ("failed", 2)
    assert "没有通知渠道" in row["last_error"]


def test_a_bad_review_on_the_rating_page_tells_the_county_in_the_background(db_path, receiver, monkeypatch):
    from test_serve import make_client, rate

    from haocha_cli import notify as notify_module

    licang(db_path, receiver.start())
    monkeypatch.setenv("HAOCHA_NOW", "2024-05-06 10:00:00")
    threads = []
    started = notify_module.deliver_in_background
    monkeypatch.setattr(notify_module, "deliver_in_background",
                        lambda *a, **k: threads.append(started(*a, **k)) or threads[-1])
    client = make_client(db_path)
    page = rate(client, db_path, level="非常不满意", comment=COMMENT, phone=PHONE)
    assert page.status_code == 200, page.text
    for thread in threads:
        thread.join(10)
    [message] = receiver.messages
    text = json.dumps(message, ensure_ascii=False)
    assert "#1" in text and "李沧区" in text and "LC01" in text
    assert PHONE not in text and "138****5678" not in text and "态度很差" not in text
    assert "https://haocha.example.gov.cn/staff/cases/1" in text
