"""Crawl figures of the community spiders (reddit, hackernews, stackexchange, github, mastodon, bluesky).

    .venv/bin/python bench/crawl_community.py [--pages 10] [--parse-repeat 200] [--json]

Two measurements per source, printed as a table (or JSON):

- parse: the page parser alone on one full page (100 posts; 40 for Mastodon), repeated: pages/s, posts/s;
- crawl: a real ``scrapy crawl`` subprocess (the real engine, pipelines, SQLite store) against the local
  demo site serving ``--pages`` full pages in the service's shape (bodies built from our own fixtures),
  then the same crawl again to show the high-water mark at work (posts stored the second time: 0).

``bench/crawl.py`` calls :func:`run` for its community section.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FIXTURES = ROOT / "tests" / "fixtures" / "sites"
SINCE = "2000-01-01"
SINCE_EPOCH = 946684800
T0 = 1795000000  # 2026-11-18T..., the newest post of a bench site
FAST = {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "LOG_LEVEL": "WARNING"}
CREDENTIALS = {"REDDIT_CLIENT_ID": "bench", "REDDIT_CLIENT_SECRET": "bench", "BLUESKY_HANDLE": "bench.example",
               "BLUESKY_APP_PASSWORD": "bench"}


def _fixture(site: str, name: str) -> Any:
    return json.loads((FIXTURES / site / name).read_text(encoding="utf-8"))


def _iso(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _text(n: int, base: str) -> str:
    return f"{base} (post {n})"


# ---------------------------------------------------------------- sites: {target: body}, spider args


def reddit_site(pages: int, per_page: int = 100) -> tuple[dict[str, Any], dict[str, str]]:
    """Token plus ``pages`` pages of ``/r/bench/new``."""
    template = _fixture("reddit", "new_page1.json")["data"]["children"][0]
    routes: dict[str, Any] = {"/api/v1/access_token": _fixture("reddit", "token.json")}
    n = 0
    for page in range(pages):
        children = []
        for _ in range(per_page):
            child = copy.deepcopy(template)
            data = child["data"]
            data.update(id=f"b{n:06d}", name=f"t3_b{n:06d}", num_comments=0, created_utc=float(T0 - n * 60),
                        selftext=_text(n, data["selftext"]), permalink=f"/r/bench/comments/b{n:06d}/x/")
            children.append(child)
            n += 1
        after = f"t3_b{n - 1:06d}" if page < pages - 1 else None
        target = "/r/bench/new?limit=100&raw_json=1" + (f"&after=t3_b{page * per_page - 1:06d}" if page else "")
        routes[target] = {"kind": "Listing", "data": {"after": after, "children": children, "before": None}}
    return routes, {"subreddits": "bench", "comments": "0"}


def hackernews_site(pages: int, per_page: int = 100) -> tuple[dict[str, Any], dict[str, str]]:
    """One time window of ``pages`` pages (no hit cap)."""
    template = _fixture("hackernews", "window1_page0.json")["hits"][1]  # a comment hit
    routes: dict[str, Any] = {}
    n = 0
    for page in range(pages):
        hits = []
        for _ in range(per_page):
            hit = copy.deepcopy(template)
            hit.update(objectID=str(50_000_000 + n), created_at_i=T0 - n * 60, created_at=_iso(T0 - n * 60),
                       comment_text=_text(n, hit["comment_text"]))
            hits.append(hit)
            n += 1
        target = ("/api/v1/search_by_date?query=bench&tags=%28story%2Ccomment%29"
                  f"&numericFilters=created_at_i%3E{SINCE_EPOCH}&hitsPerPage=100&page={page}")
        routes[target] = {"hits": hits, "nbHits": pages * per_page, "page": page, "nbPages": pages,
                          "hitsPerPage": per_page}
    routes["/api/v1/search_by_date?query=bench&tags=%28story%2Ccomment%29"  # the incremental second crawl
           f"&numericFilters=created_at_i%3E{T0}&hitsPerPage=100&page=0"] = {
        "hits": [], "nbHits": 0, "page": 0, "nbPages": 0, "hitsPerPage": per_page}
    return routes, {"query": "bench"}


def stackexchange_site(pages: int, per_page: int = 100) -> tuple[dict[str, Any], dict[str, str]]:
    """``pages`` pages of ``/2.3/search/advanced`` (no backoff)."""
    template = _fixture("stackexchange", "page1.json")["items"][0]
    routes: dict[str, Any] = {}
    n = 0
    for page in range(1, pages + 1):
        items = []
        for _ in range(per_page):
            item = copy.deepcopy(template)
            item.update(question_id=200_000 + n, creation_date=T0 - n * 60, body=_text(n, item["body"]))
            items.append(item)
            n += 1
        target = (f"/2.3/search/advanced?site=bench&q=bench&filter=withbody&pagesize=100&page={page}"
                  f"&sort=creation&order=desc&fromdate={SINCE_EPOCH}")
        routes[target] = {"items": items, "has_more": page < pages, "quota_max": 10000,
                          "quota_remaining": 10000 - page}
    routes["/2.3/search/advanced?site=bench&q=bench&filter=withbody&pagesize=100&page=1&sort=creation"
           f"&order=desc&fromdate={T0}"] = {"items": [], "has_more": False, "quota_max": 10000, "quota_remaining": 1}
    return routes, {"site": "bench", "query": "bench"}


def github_site(pages: int, per_page: int = 100) -> tuple[dict[str, Any], dict[str, str]]:
    """``pages`` pages of issues linked by ``Link`` headers."""
    template = _fixture("github", "issues_page1.json")[0]
    base = "/repos/bench/bench/issues?state=all&per_page=100&since=2000-01-01T00:00:00Z"
    routes: dict[str, Any] = {}
    n = 0
    for page in range(1, pages + 1):
        issues = []
        for _ in range(per_page):
            issue = copy.deepcopy(template)
            issue.update(id=7_000_000 + n, number=n + 1, body=_text(n, issue["body"]), comments=0,
                         created_at=_iso(T0 - n * 60), updated_at=_iso(T0 - n * 60))
            issues.append(issue)
            n += 1
        target = base + (f"&page={page}" if page > 1 else "")
        headers = {"Content-Type": "application/json"}
        if page < pages:
            headers["Link"] = f'<{base.replace(":", "%3A")}&page={page + 1}>; rel="next"'
        routes[target] = {"__response__": True, "json": issues, "headers": headers}
    routes[f"/repos/bench/bench/issues?state=all&per_page=100&since={_iso(T0 + 1)}"] = []
    return routes, {"repo": "bench/bench"}


def mastodon_site(pages: int, per_page: int = 40) -> tuple[dict[str, Any], dict[str, str]]:
    """``pages`` pages of a tag timeline paged by ``max_id``, then an empty page."""
    template = _fixture("mastodon", "page1.json")[0]
    routes: dict[str, Any] = {}
    n = 0
    top = 113_600_000_000_000_000
    for page in range(pages + 1):
        statuses = []
        for _ in range(per_page if page < pages else 0):
            status = copy.deepcopy(template)
            sid = str(top - n)
            status.update(id=sid, uri=f"https://bench.example/users/b/statuses/{sid}",
                          url=f"https://bench.example/@b/{sid}", created_at=_iso(T0 - n * 60),
                          content=f"<p>{_text(n, 'A note about the bench tag')}</p>")
            statuses.append(status)
            n += 1
        target = "/api/v1/timelines/tag/bench?limit=40" + (f"&max_id={top - page * per_page + 1}" if page else "")
        routes[target] = statuses
    return routes, {"tag": "bench"}


def bluesky_site(pages: int, per_page: int = 100) -> tuple[dict[str, Any], dict[str, str]]:
    """A session plus ``pages`` pages of ``searchPosts`` paged by cursor."""
    template = _fixture("bluesky", "search_page1.json")["posts"][0]
    routes: dict[str, Any] = {"/xrpc/com.atproto.server.createSession": _fixture("bluesky", "session.json")}
    base = "/xrpc/app.bsky.feed.searchPosts?q=bench&limit=100&sort=latest&since=2000-01-01T00:00:00Z"
    n = 0
    for page in range(pages):
        posts = []
        for _ in range(per_page):
            post = copy.deepcopy(template)
            post["uri"] = f"at://did:plc:bench/app.bsky.feed.post/b{n:08d}"
            post["indexedAt"] = post["record"]["createdAt"] = _iso(T0 - n * 60)
            post["record"]["text"] = _text(n, post["record"]["text"])
            posts.append(post)
            n += 1
        body: dict[str, Any] = {"posts": posts}
        if page < pages - 1:
            body["cursor"] = str((page + 1) * per_page)
        routes[base + (f"&cursor={page * per_page}" if page else "")] = body
    routes[base.replace("2000-01-01T00:00:00Z", _iso(T0))] = {"posts": []}
    return routes, {"query": "bench"}


SITES: dict[str, Callable[[int], tuple[dict[str, Any], dict[str, str]]]] = {
    "reddit": reddit_site, "hackernews": hackernews_site, "stackexchange": stackexchange_site,
    "github": github_site, "mastodon": mastodon_site, "bluesky": bluesky_site,
}


# ---------------------------------------------------------------- measurements


def parse_figures(repeat: int) -> dict[str, dict[str, float]]:
    """Parser speed on one full page per source."""
    from spiders.pages import bluesky, github, hackernews, mastodon, reddit, stackexchange

    parsers: dict[str, Callable[[bytes], Any]] = {
        "reddit": reddit.parse_listing, "hackernews": hackernews.parse_search,
        "stackexchange": stackexchange.parse_search, "github": github.parse_issues,
        "mastodon": mastodon.parse_timeline, "bluesky": bluesky.parse_search,
    }
    figures = {}
    for name, parse in parsers.items():
        routes, _ = SITES[name](1)
        page = next(v for v in routes.values() if not (isinstance(v, dict) and ("access_token" in v
                                                                                or "accessJwt" in v)))
        data = page["json"] if isinstance(page, dict) and page.get("__response__") else page
        body = json.dumps(data).encode("utf-8")
        posts = len(parse(body).posts)
        started = time.perf_counter()
        for _ in range(repeat):
            parse(body)
        elapsed = time.perf_counter() - started
        figures[name] = {"posts_per_page": posts, "pages_per_s": round(repeat / elapsed, 1),
                         "posts_per_s": round(repeat * posts / elapsed)}
    return figures


def crawl_figures(pages: int, work: Path) -> dict[str, dict[str, Any]]:
    """A first and a second real crawl of each source against its bench site."""
    from spiders.runner import run_crawl
    from voxpop.demo.site import start_site, write_routes

    os.environ.update({k: os.environ.get(k) or v for k, v in CREDENTIALS.items()})
    figures = {}
    for name, build in SITES.items():
        routes, params = build(pages)
        root = write_routes(work / name, routes, robots="User-agent: *\nAllow: /\n")
        base_url, stop = start_site(root)
        database_url = f"sqlite:///{work / (name + '.db')}"
        try:
            extra = {"auth_url": base_url} if name == "reddit" else {}
            runs = []
            for _ in range(2):
                started = time.perf_counter()
                outcome = run_crawl(product_slug="bench", source_name=name, spider=name,
                                    params={**params, **extra}, database_url=database_url, timeout_s=300,
                                    base_url=base_url, since=SINCE, extra_settings=FAST)
                runs.append((outcome, time.perf_counter() - started))
        finally:
            stop()
        (first, wall), (second, _) = runs
        crawl_s = float(first.stats.get("duration_s") or wall)
        figures[name] = {
            "status": first.status, "pages": first.stats.get("pages"), "requests": first.stats.get("requests"),
            "stored": first.stored, "wall_s": round(wall, 2), "crawl_s": round(crawl_s, 2),
            "posts_per_s": round(first.stored / crawl_s) if crawl_s else None,
            "second_run_stored": second.stored, "second_run_requests": second.stats.get("requests"),
        }
    return figures


def run(pages: int = 10, parse_repeat: int = 200) -> dict[str, Any]:
    """Both measurements, as a dict (what ``bench/crawl.py`` prints in its community section)."""
    with tempfile.TemporaryDirectory(prefix="voxpop-bench-community-") as tmp:
        return {"parse": parse_figures(parse_repeat), "crawl": crawl_figures(pages, Path(tmp))}


def print_table(figures: dict[str, Any]) -> None:
    """Print the figures of :func:`run` as two small tables."""
    print("community parsers (one full page, repeated)")
    print(f"  {'source':<14}{'posts/page':>11}{'pages/s':>10}{'posts/s':>10}")
    for name, row in figures["parse"].items():
        print(f"  {name:<14}{row['posts_per_page']:>11}{row['pages_per_s']:>10}{row['posts_per_s']:>10}")
    print("community crawls (real engine + SQLite store, local site; then a second, incremental crawl)")
    print(f"  {'source':<14}{'status':>8}{'pages':>7}{'stored':>8}{'crawl s':>9}{'wall s':>8}{'posts/s':>9}"
          f"{'2nd stored':>12}{'2nd requests':>14}")
    for name, row in figures["crawl"].items():
        print(f"  {name:<14}{row['status']:>8}{row['pages']:>7}{row['stored']:>8}{row['crawl_s']:>9}"
              f"{row['wall_s']:>8}{row['posts_per_s']:>9}{row['second_run_stored']:>12}"
              f"{row['second_run_requests']:>14}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=10, help="full pages per source site")
    parser.add_argument("--parse-repeat", type=int, default=200)
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    args = parser.parse_args()
    figures = run(args.pages, args.parse_repeat)
    if args.json:
        print(json.dumps(figures, indent=1))
    else:
        print_table(figures)


if __name__ == "__main__":
    main()
