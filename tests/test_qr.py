"""Per-window QR codes: tokens, payloads, images decoded by a real decoder (zxing-cpp), the A4 sheet."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from io import BytesIO

import pytest
import qrcode.constants
import zxingcpp
from PIL import Image, ImageDraw

from haocha_cli import qr_tokens
from haocha_cli.errors import ConfigError, InvalidInput

SECRET = bytes(range(32))  # hex key 000102…1f
OTHER_SECRET = bytes(range(1, 33))
TEMPLATE = "http://127.0.0.1:8000/r?w={window}&t={token}"

# Independent reference values, from the shell rather than from Python:
#   printf LC01 | openssl dgst -sha256 -mac HMAC -macopt hexkey:000102…1f -binary | base32
# LC01 -> QCOSZWP37U57GJPRTOUISECNQJGQOQV3GN5GEE7RCQ7FFANDN2IQ====
# LC02 -> BWRSHKJDF7J3VG4NPZTTJNYVO2YNA36ZQQQV4SO2CHAGDOEWY6JQ====
LC01_TOKEN = "QCOSZWP37U"
LC01_URL = "http://127.0.0.1:8000/r?w=LC01&t=QCOSZWP37U"

WINDOWS = [
    ("370213", "李沧区烟草专卖局", "LC01", "李沧区政务服务大厅烟草专卖窗口1", "offline"),
    ("370213", "李沧区烟草专卖局", "LC02", "李沧区政务服务大厅烟草专卖窗口2", "offline"),
    ("370213", "李沧区烟草专卖局", "LC-WEB", "李沧区网上办理", "online"),
    ("370202", "市南区烟草专卖局", "SN01", "市南区政务服务中心烟草窗口", "offline"),
    ("370211", "黄岛区烟草专卖局", "HD01", "黄岛区行政审批大厅", "offline"),
    ("370212", "崂山区烟草专卖局", "LS01", "崂山区政务服务大厅", "offline"),
    ("370281", "胶州市烟草专卖局", "JZ01", "胶州市民中心烟草窗口", "offline"),
]


def window_dicts(rows=WINDOWS):
    return [
        {
            "county_code": county_code,
            "county_name": county_name,
            "window_code": window_code,
            "window_name": window_name,
            "kind": kind,
            "payload": qr_tokens.build_payload(TEMPLATE, window_code, qr_tokens.make_token(SECRET, window_code)),
        }
        for county_code, county_name, window_code, window_name, kind in rows
    ]


# --- a tiny SVG rasteriser: rects and paths of straight axis-aligned segments, enough for our codes ----


def rasterise_svg(svg: str, px_per_unit: int = 8) -> Image.Image:
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    _, _, width, height = (float(v) for v in root.get("viewBox").split())
    # Grey, not white, underneath: whatever is light in the result was painted light by the SVG itself.
    image = Image.new("L", (round(width * px_per_unit), round(height * px_per_unit)), 128)
    draw = ImageDraw.Draw(image)
    for element in root.iter():
        fill = 0 if element.get("fill") in ("#000000", "black") else 255
        if element.tag == ns + "rect":
            x, y, w, h = (float(element.get(k)) for k in ("x", "y", "width", "height"))
            box(draw, [(x, y), (x + w, y + h)], px_per_unit, fill)
        elif element.tag == ns + "path":
            for subpath in path_points(element.get("d")):
                box(draw, subpath, px_per_unit, fill)
    return image


def path_points(d: str) -> list[list[tuple[float, float]]]:
    """Subpaths of an SVG path made of M/m, H/h, V/v, L/l and Z/z commands."""
    subpaths, x, y = [], 0.0, 0.0
    for command, args in re.findall(r"([MmHhVvLlZz])([^MmHhVvLlZz]*)", d):
        numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", args)]
        if command in "Mm":
            x, y = (numbers[0], numbers[1]) if command == "M" else (x + numbers[0], y + numbers[1])
            subpaths.append([(x, y)])
            continue
        if command in "Hh":
            x = numbers[0] if command == "H" else x + numbers[0]
        elif command in "Vv":
            y = numbers[0] if command == "V" else y + numbers[0]
        elif command in "Ll":
            x, y = (numbers[0], numbers[1]) if command == "L" else (x + numbers[0], y + numbers[1])
        else:
            x, y = subpaths[-1][0]
        subpaths[-1].append((x, y))
    return subpaths


def box(draw: ImageDraw.ImageDraw, points, scale: int, fill: int) -> None:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    corners = {(min(xs), min(ys)), (max(xs), min(ys)), (max(xs), max(ys)), (min(xs), max(ys))}
    assert set(points) <= corners, f"not an axis-aligned rectangle: {points}"
    x0, y0, x1, y1 = (round(v * scale) for v in (min(xs), min(ys), max(xs), max(ys)))
    draw.rectangle((x0, y0, x1 - 1, y1 - 1), fill=fill)


def decode(image: Image.Image) -> list[zxingcpp.Barcode]:
    return zxingcpp.read_barcodes(image.convert("L"), formats=zxingcpp.BarcodeFormat.QRCode)


# --- tokens ------------------------------------------------------------------------------------------


def test_token_matches_hmac_sha256_computed_by_openssl():
    assert qr_tokens.make_token(SECRET, "LC01") == LC01_TOKEN
    assert qr_tokens.make_token(SECRET, "LC02") == "BWRSHKJDF7"
    assert qr_tokens.make_token(SECRET, "LC01", length=16) == "QCOSZWP37U57GJPR"


def test_token_verifies_only_for_its_window_and_its_secret():
    tokens = {code: qr_tokens.make_token(SECRET, code) for _, _, code, _, _ in WINDOWS}
    assert len(set(tokens.values())) == len(WINDOWS)
    for code, token in tokens.items():
        for other_code in tokens:
            assert qr_tokens.verify_token(SECRET, other_code, token) is (other_code == code)
        # After rotation (a new secret) every old token fails.
        assert qr_tokens.verify_token(OTHER_SECRET, code, token) is False


def test_verify_accepts_retyped_case_and_spaces_but_not_a_prefix_or_junk():
    assert qr_tokens.verify_token(SECRET, "LC01", " qcoszwp37u\n") is True
    assert qr_tokens.verify_token(SECRET, "LC01", LC01_TOKEN[:9]) is False
    assert qr_tokens.verify_token(SECRET, "LC01", LC01_TOKEN + "A") is False
    assert qr_tokens.verify_token(SECRET, "LC01", "") is False
    assert qr_tokens.verify_token(SECRET, "LC01", "QCOSZWP37Ü") is False  # non-ASCII: False, not a TypeError


def test_new_secret_is_32_random_bytes_and_rotation_changes_tokens():
    first, second = qr_tokens.new_secret(), qr_tokens.new_secret()
    assert len(first) == len(second) == 32
    assert first != second
    assert qr_tokens.make_token(first, "LC01") != qr_tokens.make_token(second, "LC01")


def test_short_secret_and_bad_length_are_refused_with_hints():
    with pytest.raises(ConfigError) as err:
        qr_tokens.make_token(b"", "LC01")
    assert str(err.value) == (
        "the QR secret is empty (0 bytes) (it must hold at least 16 random bytes; "
        "create a new one with `haocha qr rotate`)"
    )
    with pytest.raises(ConfigError, match=r"^the QR secret is too short \(15 bytes\)"):
        qr_tokens.verify_token(b"x" * 15, "LC01", LC01_TOKEN)
    with pytest.raises(InvalidInput) as err:
        qr_tokens.make_token(SECRET, "LC01", length=6)
    assert str(err.value) == "QR token length 6 is out of range (use 8 to 52 characters; the default is 10)"


# --- payload -----------------------------------------------------------------------------------------


def test_payload_is_the_template_filled_and_url_encoded():
    assert qr_tokens.build_payload(TEMPLATE, "LC01", LC01_TOKEN) == LC01_URL
    assert (
        qr_tokens.build_payload("https://hc.example/r/{window}?t={token}", "李沧 1/2&x", "AB")
        == "https://hc.example/r/%E6%9D%8E%E6%B2%A7%201%2F2%26x?t=AB"
    )


def test_template_without_placeholders_is_a_config_error():
    with pytest.raises(ConfigError) as err:
        qr_tokens.build_payload("http://127.0.0.1:8000/r?w={window}", "LC01", LC01_TOKEN)
    assert str(err.value) == (
        "the QR URL template 'http://127.0.0.1:8000/r?w={window}' lacks {token} "
        "(write it like http://127.0.0.1:8000/r?w={window}&t={token})"
    )


def test_payload_round_trip_for_every_window():
    for window in window_dicts():
        code = window["window_code"]
        window_code, token = qr_tokens.parse_payload(window["payload"])
        assert window_code == code
        assert token == qr_tokens.make_token(SECRET, code)
        assert qr_tokens.verify_token(SECRET, window_code, token)
    odd = qr_tokens.build_payload(TEMPLATE, "李沧 1/2&x", LC01_TOKEN)
    assert qr_tokens.parse_payload(odd) == ("李沧 1/2&x", LC01_TOKEN)


def test_parse_accepts_a_bare_token_or_a_query_string():
    assert qr_tokens.parse_payload("  qcoszwp37u ") == (None, LC01_TOKEN)
    assert qr_tokens.parse_payload("w=LC01&t=QCOSZWP37U") == ("LC01", LC01_TOKEN)
    assert qr_tokens.parse_payload("http://127.0.0.1:8000/r?t=QCOSZWP37U") == (None, LC01_TOKEN)


def test_parse_refuses_a_url_without_token_and_other_junk():
    with pytest.raises(InvalidInput) as err:
        qr_tokens.parse_payload("http://127.0.0.1:8000/r?w=LC01")
    assert str(err.value) == (
        "the QR URL has no token: 'http://127.0.0.1:8000/r?w=LC01' "
        "(a haocha QR URL ends with &t=<token>; scan the code again or copy the whole URL)"
    )
    with pytest.raises(InvalidInput, match=r"^the QR URL has no token"):
        qr_tokens.parse_payload("http://127.0.0.1:8000/r?w=LC01&t=")
    with pytest.raises(InvalidInput, match=r"^the QR URL gives t= more than once"):
        qr_tokens.parse_payload("http://127.0.0.1:8000/r?w=LC01&t=AAAAAAAAAA&t=BBBBBBBBBB")
    with pytest.raises(InvalidInput) as err:
        qr_tokens.parse_payload("QC0SZWP37U")  # a zero typed for the letter O
    assert str(err.value) == (
        "'QC0SZWP37U' is not a QR token (tokens use only the letters A-Z and the digits 2-7 "
        "(a 0 is the letter O, a 1 the letter I))"
    )
    with pytest.raises(InvalidInput, match=r"^the QR text is empty"):
        qr_tokens.parse_payload("   ")


# --- images ------------------------------------------------------------------------------------------


def test_png_decodes_to_the_exact_url_at_level_q(tmp_path):
    path = qr_tokens.render_png(LC01_URL, tmp_path / "370213_LC01.png")
    image = Image.open(path)
    assert image.size == (600, 600)
    [barcode] = decode(image)
    assert barcode.text == LC01_URL
    assert barcode.ec_level == "Q"


def test_every_window_png_and_svg_decodes_to_its_own_url(tmp_path):
    for window in window_dicts():
        expected = window["payload"]
        png = qr_tokens.render_png(
            expected, tmp_path / f"{qr_tokens.file_stem(window['county_code'], window['window_code'])}.png"
        )
        assert [b.text for b in decode(Image.open(png))] == [expected]
        svg = qr_tokens.render_svg(expected)
        assert [b.text for b in decode(rasterise_svg(svg))] == [expected]


def test_png_has_a_white_quiet_zone_of_four_modules():
    image = Image.open(BytesIO(qr_tokens.png_bytes(LC01_URL))).convert("L")
    dark = image.point(lambda v: 255 if v < 128 else 0).getbbox()
    # 43 bytes at level Q need version 4: 33 modules + 2 × 4 quiet = 41; 600 px // 41 = 14 px a module,
    # 600 - 41 × 14 = 26 spare px split 13 | 13.
    assert dark == (13 + 4 * 14, 13 + 4 * 14, 600 - 13 - 4 * 14, 600 - 13 - 4 * 14)


def scratched(payload: str) -> Image.Image:
    """The PNG with a white scratch 4 modules high right across the middle of the symbol."""
    image = Image.open(BytesIO(qr_tokens.png_bytes(payload))).convert("L")
    ImageDraw.Draw(image).rectangle((69, 13 + 14 * 18, 530, 13 + 14 * 22 - 1), fill=255)
    return image


def test_png_still_decodes_with_a_scratch_across_the_data(monkeypatch):
    assert [b.text for b in decode(scratched(LC01_URL))] == [LC01_URL]
    # The same scratch ruins a code at level M, the library's default: level Q is what saves it.
    monkeypatch.setattr(qr_tokens, "ERROR_CORRECTION", qrcode.constants.ERROR_CORRECT_M)
    assert len(qr_tokens._modules(LC01_URL)) == 41  # same size, so the scratch covers the same modules
    assert decode(scratched(LC01_URL)) == []


def test_images_are_deterministic_and_the_png_is_the_requested_size():
    assert qr_tokens.png_bytes(LC01_URL) == qr_tokens.png_bytes(LC01_URL)
    assert qr_tokens.render_svg(LC01_URL) == qr_tokens.render_svg(LC01_URL)
    assert Image.open(BytesIO(qr_tokens.png_bytes(LC01_URL, size_px=301))).size == (301, 301)
    with pytest.raises(InvalidInput) as err:
        qr_tokens.png_bytes(LC01_URL, size_px=60)
    assert str(err.value) == (
        "60 px is too small for this QR code (41 modules with the quiet zone) "
        "(use at least 82 px so each module gets 2 pixels or more)"
    )


def test_svg_is_standalone_sized_in_mm_with_quiet_zone_and_optional_declaration():
    svg = qr_tokens.render_svg(LC01_URL, size_mm=42.5)
    assert svg.startswith(
        '<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="42.5mm" height="42.5mm" '
    )
    assert 'viewBox="0 0 41 41"' in svg
    assert "<?xml" not in svg and " id=" not in svg and "href" not in svg
    root = ET.fromstring(svg)
    [path] = [e for e in root if e.tag.endswith("path")]
    corners = [pt for sub in path_points(path.get("d")) for pt in sub]
    assert min(x for x, _ in corners) == 4 and max(x for x, _ in corners) == 37
    assert min(y for _, y in corners) == 4 and max(y for _, y in corners) == 37
    document = qr_tokens.render_svg(LC01_URL, xml_declaration=True)
    assert document == '<?xml version="1.0" encoding="UTF-8"?>\n' + qr_tokens.render_svg(LC01_URL) + "\n"
    ET.fromstring(document.encode("utf-8"))  # a well-formed file
    with pytest.raises(InvalidInput, match=r"^QR size 0 mm is not a positive size"):
        qr_tokens.render_svg(LC01_URL, size_mm=0)


def test_overlong_and_empty_payloads_are_refused():
    with pytest.raises(InvalidInput) as err:
        qr_tokens.render_svg("x" * 3000)
    assert str(err.value) == (
        "the QR payload is too long (3000 characters) (shorten the URL template in the configuration)"
    )
    with pytest.raises(InvalidInput, match=r"^the QR payload is empty"):
        qr_tokens.png_bytes("")


def test_unwritable_png_path_is_an_invalid_input(tmp_path):
    with pytest.raises(InvalidInput) as err:
        qr_tokens.render_png(LC01_URL, tmp_path / "missing" / "a.png")
    assert str(err.value) == (
        f"cannot write {tmp_path / 'missing' / 'a.png'}: No such file or directory "
        "(check that the folder exists and is writable)"
    )


# --- file names --------------------------------------------------------------------------------------


def test_file_stem():
    assert qr_tokens.file_stem("370213", "LC01") == "370213_LC01"
    assert qr_tokens.file_stem("370213", "LC-WEB.1") == "370213_LC-WEB.1"
    # Changed parts get a hash of the original, so distinct codes never overwrite each other's file.
    slash, space = qr_tokens.file_stem("370213", "LC/01"), qr_tokens.file_stem("370213", "LC 01")
    assert re.fullmatch(r"370213_LC-01-[0-9a-f]{6}", slash)
    assert re.fullmatch(r"370213_LC-01-[0-9a-f]{6}", space)
    assert slash != space
    assert re.fullmatch(r"370213_-[0-9a-f]{6}", qr_tokens.file_stem("370213", ".."))
    with pytest.raises(InvalidInput, match=r"^a county or window code is empty"):
        qr_tokens.file_stem("370213", "")


# --- the printable sheet -----------------------------------------------------------------------------


def test_sheet_has_a_card_per_window_with_names_prompts_and_decodable_codes():
    windows = window_dicts()
    html = qr_tokens.render_sheet("青岛市烟草专卖局", windows)
    assert html.count('<div class="card">') == len(WINDOWS)
    assert html.count('<section class="page">') == 2  # 7 cards: 6 on page one, 1 on page two
    assert html.count("青岛市烟草专卖局") == len(WINDOWS) + 1  # every card and the <title>
    assert "<title>好差评评价二维码 · 青岛市烟草专卖局</title>" in html
    for window in windows:
        size, lines = qr_tokens.name_fit(window["window_name"])  # the name's font fitted to the card (test_report_print)
        assert (f'<div class="window{" two-lines" if lines == 2 else ""}" style="font-size: {size}mm">'
                f'{window["window_name"]}</div>') in html
        assert f'<div class="county">{window["county_name"]}</div>' in html
    assert html.count('<div class="prompt">请扫码评价本次服务</div>') == 6
    assert html.count('<div class="prompt">请扫码评价本次网上办理服务</div>') == 1
    # The embedded codes, in card order, decode to each window's URL.
    svgs = re.findall(r"<svg .*?</svg>", html)
    assert [decode(rasterise_svg(svg))[0].text for svg in svgs] == [w["payload"] for w in windows]


def test_sheet_is_printable_a4_and_loads_nothing_from_outside():
    html = qr_tokens.render_sheet("青岛市烟草专卖局", window_dicts(), title="李沧区 2024 版")
    assert "@page { size: A4 portrait; margin: 10mm; }" in html
    assert "break-inside: avoid" in html
    for forbidden in ('src="http', "href=", "<script", "@import", "url(", "<link", "<img", "<iframe"):
        assert forbidden not in html
    # The only "http" left is the SVG namespace name: no URL is printed or linked.
    assert "http" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_sheet_escapes_names_typed_by_people():
    rows = [("370213", "李沧区 & <b>局</b>", "LC01", '<script>alert("x")</script>窗口', "offline")]
    html = qr_tokens.render_sheet("青岛<市>局", window_dicts(rows), title="<i>t</i>")
    assert "<script" not in html and "<b>" not in html and "<i>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;窗口" in html
    assert "李沧区 &amp; &lt;b&gt;局&lt;/b&gt;" in html
    assert "<title>&lt;i&gt;t&lt;/i&gt; · 青岛&lt;市&gt;局</title>" in html


def test_sheet_refuses_incomplete_windows():
    with pytest.raises(InvalidInput, match=r"^there are no windows to print"):
        qr_tokens.render_sheet("青岛市烟草专卖局", [])
    windows = window_dicts()
    del windows[1]["payload"]
    with pytest.raises(InvalidInput) as err:
        qr_tokens.render_sheet("青岛市烟草专卖局", windows)
    assert str(err.value).startswith("window 2 (LC02) lacks payload (each window needs county_code, ")
    windows = window_dicts()
    windows[0]["kind"] = "kiosk"
    with pytest.raises(InvalidInput) as err:
        qr_tokens.render_sheet("青岛市烟草专卖局", windows)
    assert str(err.value) == (
        "window LC01 has kind 'kiosk' (the kind is 'offline' (a counter) or 'online' (网上办理))"
    )
