"""`haocha qr` against the catalogue: files decode to the window's URL, verify, rotate (audited)."""

from __future__ import annotations

import sqlite3

import zxingcpp
from PIL import Image

from haocha_cli import qr
from haocha_cli.privacy import load_keys


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
        token = qr.make_token(secret, w["window"])
        assert decoded == [f"http://127.0.0.1:8000/r?w={w['window']}&t={token}"]


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
    rotated = cli("qr", "rotate", "--yes")
    assert rotated.exit_code == 0
    assert cli("qr", "verify", url).exit_code == 1
    events = sqlite3.connect(db_path).execute("SELECT action, operator FROM audit_events WHERE action = 'qr.rotate'").fetchall()
    assert events == [("qr.rotate", "city")]
    assert cli("audit", "verify").exit_code == 0


def test_sheet_lists_every_active_window(cli, tmp_path):
    out = tmp_path / "sheet.html"
    result = cli("qr", "sheet", "--out", str(out), "--county", "370213")
    assert result.exit_code == 0
    html = out.read_text(encoding="utf-8")
    for name in ("李沧区局政务服务大厅烟草专卖1号窗口", "李沧区局政务服务大厅烟草专卖2号窗口", "李沧区局网上办理渠道"):
        assert name in html
    assert "青岛市烟草专卖局" in html and "请扫码评价本次服务" in html
    assert "<script" not in html and 'src="http' not in html


def test_qr_secret_from_the_environment(cli, monkeypatch, tmp_path):
    monkeypatch.setenv("HAOCHA_QR_SECRET", "an-environment-secret-of-enough-length")
    url = _payload(cli, tmp_path, "LC01")
    assert url.endswith("t=" + qr.make_token(b"an-environment-secret-of-enough-length", "LC01"))
    result = cli("qr", "rotate", "--yes")
    assert result.exit_code == 1
    assert result.stderr.strip() == ("Error: the QR secret comes from the environment variable HAOCHA_QR_SECRET "
                                     "(set a new value in HAOCHA_QR_SECRET where it is configured; haocha cannot change it)")
