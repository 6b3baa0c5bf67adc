"""Real headless chromium for page checks: layout probes (scroll width at a given window width) and screenshots."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
PROBE = ("<div id=\"voxpop-probe\"></div><script>document.getElementById('voxpop-probe').textContent = JSON.stringify("
         "{scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth, "
         "body: document.body.scrollWidth, images: Array.from(document.images).map(i => [i.naturalWidth, "
         "i.getBoundingClientRect().right])});</script>")


def require_chromium() -> Path:
    """The browser, or a skip (a failure when services are required)."""
    if not CHROMIUM.exists() or not shutil.which(str(CHROMIUM)):
        if os.environ.get("VOXPOP_REQUIRE_SERVICES") == "1":
            pytest.fail("/usr/bin/chromium is required when VOXPOP_REQUIRE_SERVICES=1 (apt-get install chromium)")
        pytest.skip("headless browser check skipped: /usr/bin/chromium is not installed (apt-get install chromium)")
    return CHROMIUM


def chromium(args: list[str], profile: Path, width: int, height: int = 900) -> subprocess.CompletedProcess[str]:
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--no-first-run", "--disable-component-update", "--disable-sync", "--disable-extensions",
           "--hide-scrollbars", f"--window-size={width},{height}", f"--user-data-dir={profile}",
           "--enable-logging=stderr", "--v=0", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def with_images(html: str, images: dict[str, bytes]) -> str:
    """The HTML with each ``cid:`` image replaced by a data: URI, as a mail client shows it."""
    def sub(match: re.Match[str]) -> str:
        return "src=\"data:image/png;base64," + base64.b64encode(images[match.group(1)]).decode("ascii") + "\""
    return re.sub(r'src="cid:([^"]+)"', sub, html)


def layout(page: Path, width: int, profile: Path) -> dict[str, object]:
    """Scroll and client width of ``page`` at a window ``width`` wide, measured by the browser."""
    probed = page.with_name(page.stem + f".probe{width}.html")
    text = page.read_text(encoding="utf-8")
    probed.write_text(text.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    done = chromium(["--dump-dom", probed.as_uri()], profile, width)
    assert done.returncode == 0, done.stderr[-2000:]
    found = re.search(r'<div id="voxpop-probe">([^<]*)</div>', done.stdout)
    assert found, done.stdout[-2000:]
    return json.loads(found.group(1).replace("&quot;", '"'))


def screenshot(page: Path, out: Path, width: int, height: int, profile: Path) -> tuple[int, int]:
    """Take a screenshot; returns the PNG's (width, height) read from its header."""
    done = chromium([f"--screenshot={out}", page.as_uri()], profile, width, height)
    assert done.returncode == 0 and out.exists(), done.stderr[-2000:]
    head = out.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])
