"""`haocha qr` against the catalogue: files decode to the window's URL, verify, rotate (audited)."""

from __future__ import annotations

import json
import re
import sqlite3
import warnings

import pytest
import zxingcpp
from import_support import HEADER, good, write_csv
from PIL import Image

from haocha_cli import qr_tokens
from haocha_cli.privacy import load_keys

PUBLIC = "https://pj.example.gov.cn/r?w={window}&t={token}"  # the rating page's public address, as configured


@pytest.fixture(autouse=True)
def _public_url(db_path):
    """The bureau's haocha.toml names the rating page's public HTTPS address (the default is refused)."""
    (db_path.parent / "haocha.toml").write_text(f'[qr]\nurl_template = "{PUBLIC}"\n', encoding="utf-8")


def _url_template(db_path, template: str) -> None:
    (db_path.parent / "haocha.toml").write_text(f'[qr]\nurl_template = "{template}"\n', encoding="utf-8")


def _payload(cli, tmp_path, window):
    """The URL in the window's generated PNG, as a phone would read it."""
    assert cli("qr", "generate", "--window", window, "--out", str(tmp_path), "--format", "png").exit_code == 0
    [png] = tmp_path.glob(f"*_{window}.png")
    return zxingcpp.read_barcodes(Image.open(png))[0].text


def test_generate_writes_decodable_pngs_for_every_active_window(cli, db_path, tmp_path):
    result = cli("qr", "generate", "--county", "370213", "--out", str(tmp_path / "qr"), "--format", "png")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "qr").iterdir()) == ["370213_LC01.png", "370213_LC02.png",
                                                                   "370213_LCWS.png"]
    written = [{"window": w} for w in ("LC01", "LC02", "LCWS")]
    secret = load_keys(db_path).qr_secret
    for w in written:
        png = tmp_path / "qr" / f"370213_{w['window']}.png"
        decoded = [b.text for b in zxingcpp.read_barcodes(Image.open(png))]
        token = qr_tokens.make_token(secret, w["window"])
        assert decoded == [f"https://pj.example.gov.cn/r?w={w['window']}&t={token}"]
    assert "warning" not in result.stderr


HINT = ("(set [qr] url_template in {toml} to the rating page's public HTTPS address, e.g. url_template ="
        ' "https://pj.example.gov.cn/r?w={{window}}&t={{token}}" (docs/serve.md); for test codes add --allow-local)')


@pytest.mark.parametrize(("template", "why"), [
    (None, "the URL is the default http://127.0.0.1:8000/r?w={window}&t={token}, which only the machine running"
           " haocha can open"),
    ("http://127.0.0.1:8000/r?w={window}&t={token}", "the URL is the default http://127.0.0.1:8000/r?w={window}"
                                                     "&t={token}, which only the machine running haocha can open"),
    ("http://127.8.9.10/r?w={window}&t={token}", "the URL's address http://127.8.9.10 is this machine's own"
                                                 " (loopback), which no phone reaches"),
    ("https://[::1]:8443/r?w={window}&t={token}", "the URL's address https://[::1]:8443 is this machine's own"
                                                  " (loopback), which no phone reaches"),
    ("http://LocalHost:8000/r?w={window}&t={token}", "the URL's address http://LocalHost:8000 is this machine's"
                                                     " own (localhost), which no phone reaches"),
    ("http://0.0.0.0:8000/r?w={window}&t={token}", "the URL's address http://0.0.0.0:8000 is this machine's own"
                                                   " (loopback), which no phone reaches"),
])
def test_codes_a_phone_cannot_open_are_refused_and_nothing_is_written(cli, db_path, tmp_path, template, why):
    if template is None:
        (db_path.parent / "haocha.toml").unlink()
    else:
        _url_template(db_path, template)
    toml = db_path.parent / "haocha.toml"
    message = f"Error: no QR codes printed: {why}, so a phone that scans them opens nothing "
    hint = HINT.format(toml=toml if template else "haocha.toml beside the database")
    for command in (["generate", "--out", str(tmp_path / "qr")], ["sheet", "--out", str(tmp_path / "sheet.html")]):
        result = cli("qr", *command)
        assert (result.exit_code, result.stderr) == (1, message + hint + "\n")
    assert not (tmp_path / "qr").exists() and not (tmp_path / "sheet.html").exists()


def test_an_intranet_address_is_the_bureaus_choice(cli, db_path, tmp_path):
    _url_template(db_path, "http://192.168.10.5/r?w={window}&t={token}")
    assert cli("qr", "sheet", "--out", str(tmp_path / "sheet.html")).exit_code == 0
    assert "测试用二维码" not in (tmp_path / "sheet.html").read_text(encoding="utf-8")


def test_allow_local_prints_test_codes_that_say_so(cli, db_path, tmp_path):
    (db_path.parent / "haocha.toml").unlink()  # the default URL
    warning = "测试用二维码：仅在本机有效，请勿张贴"
    result = cli("qr", "generate", "--county", "370213", "--out", str(tmp_path / "qr"), "--format", "png",
                 "--allow-local")
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "qr").iterdir()) == [
        "370213_LC01-local.png", "370213_LC02-local.png", "370213_LCWS-local.png"]
    token = qr_tokens.make_token(load_keys(db_path).qr_secret, "LC01")
    decoded = [b.text for b in zxingcpp.read_barcodes(Image.open(tmp_path / "qr" / "370213_LC01-local.png"))]
    assert decoded == [f"http://127.0.0.1:8000/r?w=LC01&t={token}"]
    assert f"warning: {warning} (test codes" in result.stderr
    sheet = tmp_path / "sheet.html"
    result = cli("qr", "sheet", "--out", str(sheet), "--allow-local")
    assert result.exit_code == 0 and f"warning: {warning}" in result.stderr
    html = sheet.read_text(encoding="utf-8")
    # 25 active windows: five pages of six, each with the red line across its top.
    pages = html.count('<section class="page local">')
    assert pages == 5 and html.count(f'<div class="local-warning">{warning}</div>') == pages
    assert ".local-warning {" in html and "color: #d00000" in html


def test_verify_accepts_own_window_refuses_others_and_rotation(cli, db_path, tmp_path):
    url = _payload(cli, tmp_path, "LC01")
    ok = cli("qr", "verify", url)
    assert ok.exit_code == 0 and ok.stderr.strip() == "valid: the token belongs to window LC01"
    token = url.split("t=")[1]
    wrong = cli("qr", "verify", token, "--window", "LC02")
    assert wrong.exit_code == 1
    assert wrong.stderr.startswith("Error: the token does not belong to window LC02")
    assert cli("qr", "rotate").exit_code == 2  # needs --yes
    assert cli("qr", "rotate", "--yes", operator="county:370213").exit_code == 1
    rotated = cli("qr", "rotate", "--yes", "--grace", "0")
    assert rotated.exit_code == 0
    assert rotated.stderr.strip() == "QR secret rotated: old codes no longer verify. Reprint with `haocha qr sheet`."
    assert cli("qr", "verify", url).exit_code == 1
    events = sqlite3.connect(db_path).execute("SELECT action, operator FROM audit_events WHERE action = 'qr.rotate'").fetchall()
    assert events == [("qr.rotate", "city")]
    assert cli("audit", "verify").exit_code == 0


def test_rotate_keeps_the_old_codes_verifying_for_the_grace_period(run, db_path, tmp_path):
    url = _payload(lambda *a: run("2026-09-01 09:00:00", *a), tmp_path, "LC01")
    old_secret = load_keys(db_path).qr_secret
    rotated = run("2026-09-01 09:00:00", "qr", "rotate", "--yes")  # 30 days by default
    assert (rotated.exit_code, rotated.stderr.strip()) == (0, (
        "QR secret rotated: old codes keep working until 2026-10-01 09:00:00 (their ratings are flagged old_token),"
        " then stop. Reprint with `haocha qr sheet` and swap the stickers before then."))
    keys = load_keys(db_path)
    assert keys.qr_secret != old_secret and keys.qr_previous == old_secret
    assert (keys.qr_rotated_at, keys.qr_previous_until) == ("2026-09-01 09:00:00", "2026-10-01 09:00:00")
    during = run("2026-10-01 09:00:00", "qr", "verify", url)
    assert (during.exit_code, during.stderr.strip()) == (0, (
        "valid until 2026-10-01 09:00:00: the token belongs to window LC01 under the previous QR secret (旧版二维码);"
        " ratings made with it are accepted and flagged old_token until then. Replace the sticker: `haocha qr sheet`"))
    after = run("2026-10-01 09:00:01", "qr", "verify", url)
    assert (after.exit_code, after.stderr.strip()) == (1, (
        "Error: the token belongs to window LC01 under the previous QR secret, accepted only until 2026-10-01"
        " 09:00:00 (an old sticker: put up the window's new code, `haocha qr sheet`)"))
    # The new codes verify as current ones; another window's old token is no old sticker of LC01.
    new_url = _payload(lambda *a: run("2026-09-02 09:00:00", *a), tmp_path / "new", "LC01")
    assert new_url != url
    assert run("2026-09-02 09:00:00", "qr", "verify", new_url).stderr.strip() == "valid: the token belongs to window LC01"
    lc02 = qr_tokens.make_token(old_secret, "LC02")
    assert run("2026-09-02 09:00:00", "qr", "verify", lc02, "--window", "LC01").stderr.startswith(
        "Error: the token does not belong to window LC01")
    # The event says when and for how long; the secrets stay in the key file only.
    [after_json] = sqlite3.connect(db_path).execute(
        "SELECT after FROM audit_events WHERE action = 'qr.rotate'").fetchone()
    assert '"grace_days": 30' in after_json and '"previous_until": "2026-10-01 09:00:00"' in after_json
    # A second rotation keeps only the secret it replaces: the first one's codes stop at once.
    assert run("2026-09-03 09:00:00", "qr", "rotate", "--yes", "--grace", "7").exit_code == 0
    assert run("2026-09-03 09:00:00", "qr", "verify", url).exit_code == 1
    assert run("2026-09-03 09:00:00", "qr", "verify", new_url).stderr.startswith("valid until 2026-09-10 09:00:00:")


def test_rotate_refuses_a_grace_out_of_range(cli):
    for days in ("-1", "367"):
        assert cli("qr", "rotate", "--yes", "--grace", days).exit_code == 2


def test_sheet_lists_every_active_window(cli, tmp_path):
    out = tmp_path / "sheet.html"
    result = cli("qr", "sheet", "--out", str(out), "--county", "370213")
    assert result.exit_code == 0
    html = out.read_text(encoding="utf-8")
    assert "测试用二维码" not in html and 'class="page local"' not in html and "warning" not in result.stderr
    for name in ("李沧区局政务服务大厅烟草专卖1号窗口", "李沧区局政务服务大厅烟草专卖2号窗口", "李沧区局网上办理渠道"):
        assert name in html
    assert "青岛市烟草专卖局" in html and "请扫码评价本次服务" in html
    assert "<script" not in html and 'src="http' not in html


def test_qr_secret_from_the_environment(cli, monkeypatch, tmp_path):
    monkeypatch.setenv("HAOCHA_QR_SECRET", "an-environment-secret-of-enough-length")
    url = _payload(cli, tmp_path, "LC01")
    assert url.endswith("t=" + qr_tokens.make_token(b"an-environment-secret-of-enough-length", "LC01"))
    result = cli("qr", "rotate", "--yes")
    assert result.exit_code == 1
    assert result.stderr.strip() == ("Error: the QR secret comes from the environment variable HAOCHA_QR_SECRET "
                                     "(set a new value in HAOCHA_QR_SECRET where it is configured; haocha cannot change it)")


# --- an old sticker after `qr rotate`: the rating page and imports ------------------------------------------------

ROTATED = "2024-05-06 09:00:00"  # a Monday: the rotation
GRACE_END = "2024-06-05 09:00:00"  # 30 days later, the default grace
_HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')


def _client(db_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    from haocha_cli.web import app as web_app

    return TestClient(web_app.create_app(db_path, clock=lambda: 1_714_960_800), client=("203.0.113.7", 50000))


def _rate_with(client, token: str) -> tuple[int, int]:
    """Scan LC01's code holding ``token`` and rate 满意: the status of the page and of the submission."""
    page = client.get("/r", params={"w": "LC01", "t": token})
    if page.status_code != 200:
        return page.status_code, page.status_code
    form = dict(_HIDDEN.findall(page.text))
    sent = client.post("/r", data={"item": "XK01", "website": "", "level": "满意", **form})
    return page.status_code, sent.status_code


def _ratings(db_path) -> list[tuple]:
    with sqlite3.connect(db_path) as conn:
        return conn.execute("SELECT r.rated_at, r.token_ok, group_concat(f.rule) FROM ratings r"
                            " LEFT JOIN flags f ON f.rating_id = r.id GROUP BY r.id ORDER BY r.id").fetchall()


def test_an_old_sticker_rates_in_the_grace_period_flagged_old_token_and_not_after(run, db_path, monkeypatch):
    old = qr_tokens.make_token(load_keys(db_path).qr_secret, "LC01")
    assert run(ROTATED, "qr", "rotate", "--yes").exit_code == 0
    client = _client(db_path)
    monkeypatch.setenv("HAOCHA_NOW", "2024-05-20 10:00:00")
    assert _rate_with(client, old) == (200, 200)
    new = qr_tokens.make_token(load_keys(db_path).qr_secret, "LC01")
    assert _rate_with(client, new) == (200, 200)
    monkeypatch.setenv("HAOCHA_NOW", GRACE_END)
    assert _rate_with(client, old) == (200, 200)  # the last second of the grace
    monkeypatch.setenv("HAOCHA_NOW", "2024-06-05 09:00:01")
    page = client.get("/r", params={"w": "LC01", "t": old})
    assert page.status_code == 403 and "二维码校验未通过：这不是该窗口的有效评价二维码。" in page.text
    assert _rate_with(client, new) == (200, 200)
    # Marked on the rating (token_ok 2) and flagged old_token (旧版二维码); the new sticker's rating is not.
    assert _ratings(db_path) == [("2024-05-20 10:00:00", 2, "old_token"), ("2024-05-20 10:00:00", 1, None),
                                 ("2024-06-05 09:00:00", 2, "old_token"), ("2024-06-05 09:00:01", 1, None)]
    listed = json.loads(run("2024-06-06 09:00:00", "flags", "list", "--format", "json").stdout)
    assert [(f["rule"], f["window"], f["rated_at"]) for f in listed] == [
        ("old_token", "LC01", "2024-06-05 09:00:00"), ("old_token", "LC01", "2024-05-20 10:00:00")]
    # A prompt to swap the sticker, not a doubtful rating: no spot-check is drawn for it.
    assert run("2024-06-06 09:00:00", "spotcheck", "sample", "--period", "2024-05", "--seed", "1").exit_code == 0
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM spot_checks WHERE reason = 'flagged'").fetchone() == (0,)
    # Nor does it raise Licang's flag rate (FMEA Occurrence): the rotation was the city's.
    assessed = json.loads(run("2024-06-06 09:00:00", "risk", "assess", "--period", "2024-05", "--dry-run",
                              "--format", "json").stdout)
    assert {r["rate"] for r in assessed["rows"] if r["county"] == "370213" and r["measure"] == "flags"} == {0}
    from haocha_cli.flags import RULE_NAMES

    assert RULE_NAMES["old_token"] == "旧版二维码"


def test_a_form_opened_before_the_rotation_is_still_accepted_in_the_grace(run, db_path, monkeypatch):
    client = _client(db_path)
    old = qr_tokens.make_token(load_keys(db_path).qr_secret, "LC01")
    monkeypatch.setenv("HAOCHA_NOW", ROTATED)
    form = dict(_HIDDEN.findall(client.get("/r", params={"w": "LC01", "t": old}).text))
    assert run(ROTATED, "qr", "rotate", "--yes", "--grace", "1").exit_code == 0
    sent = client.post("/r", data={"item": "XK01", "website": "", "level": "满意", **form})
    assert sent.status_code == 200 and "评价已提交" in sent.text
    assert _ratings(db_path) == [(ROTATED, 2, "old_token")]


def test_rotate_with_no_grace_refuses_an_old_sticker_at_once(run, db_path, monkeypatch):
    old = qr_tokens.make_token(load_keys(db_path).qr_secret, "LC01")
    assert run(ROTATED, "qr", "rotate", "--yes", "--grace", "0").exit_code == 0
    client = _client(db_path)
    monkeypatch.setenv("HAOCHA_NOW", ROTATED)
    assert _rate_with(client, old) == (403, 403)
    assert _rate_with(client, qr_tokens.make_token(load_keys(db_path).qr_secret, "LC01")) == (200, 200)
    assert _ratings(db_path) == [(ROTATED, 1, None)]


def _token_file(path, rows: list[tuple[str, str, str]]):
    return write_csv(path, [good(i, rated_at=at, channel="二维码") + [token]
                            for i, (at, token, _) in enumerate(rows, 1)], header=[*HEADER, "二维码令牌"])


@pytest.mark.parametrize(("grace", "expected"), [
    # A rating made before the rotation carried the then current code: verified. In the grace period: an old
    # sticker, accepted and flagged old_token. After it: does not verify (bad_token), as any wrong token.
    ("30", [("2024-05-06 08:59:00", 1, None), ("2024-05-20 10:00:00", 2, "old_token"),
            ("2024-06-05 09:00:00", 2, "old_token"), ("2024-06-05 09:01:00", 0, "bad_token"),
            ("2024-06-05 09:02:00", 1, None)]),
    ("0", [("2024-05-06 08:59:00", 1, None), ("2024-05-20 10:00:00", 0, "bad_token"),
           ("2024-06-05 09:00:00", 0, "bad_token"), ("2024-06-05 09:01:00", 0, "bad_token"),
           ("2024-06-05 09:02:00", 1, None)]),
])
def test_an_import_judges_an_old_token_by_the_ratings_time(run, db_path, tmp_path, grace, expected):
    old = qr_tokens.make_token(load_keys(db_path).qr_secret, "LC01")
    assert run(ROTATED, "qr", "rotate", "--yes", "--grace", grace).exit_code == 0
    new = qr_tokens.make_token(load_keys(db_path).qr_secret, "LC01")
    path = _token_file(tmp_path / "qr.csv", [(at, new if i == 4 else old, "") for i, (at, *_) in enumerate(expected)])
    # Imported long after the grace: the rating's time decides, not the day the file came in.
    result = run("2024-07-01 08:00:00", "import", str(path), "--format", "json")
    assert result.exit_code == 0, result.stderr
    [summary] = json.loads(result.stdout)
    olds = sum(1 for e in expected if e[1] == 2)
    assert (summary["accepted"], summary["qr_tokens_old"], summary["qr_tokens_not_verified"]) == (
        5, olds, sum(1 for e in expected if e[1] == 0))
    assert _ratings(db_path) == expected
