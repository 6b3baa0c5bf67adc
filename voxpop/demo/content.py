"""The demo's site content: App Store review feeds and a Discourse forum for three note-taking apps.

Everything here is written by us, in the real services' shapes (see spiders/pages). Dates are
relative to the demo's day so the emerging issue is emerging *now*; the content itself is the same on every
day (drawn with fixed seeds), so running the demo twice serves the same posts and its outcomes do not depend on
the date it runs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

HISTORY_DAYS = 42
FEED_PAGE_SIZE = 50


@dataclass(frozen=True)
class DemoProduct:
    """One product of the demo and where its posts live."""

    slug: str
    name: str
    own: bool
    app_id: str
    versions: tuple[str, ...]
    forum: bool


PRODUCTS = (
    DemoProduct("notely", "Notely", True, "900000001", ("4.0.3", "4.1.0", "4.2.0"), True),
    DemoProduct("jotter", "Jotter", False, "900000002", ("7.8", "7.9"), False),
    DemoProduct("scribbly", "Scribbly", False, "900000003", ("2.3.1", "2.4.0"), False),
)

JOBS = (
    ("capture-ideas", "Capture an idea quickly before I forget it",
     ["I jot down thoughts the second they come to me", "quick notes on the go"]),
    ("organise-notes", "Keep my notes organised so I can find them later",
     ["folders and tags keep everything tidy", "searching my notebooks finds things fast"]),
    ("share-with-team", "Share notes and collaborate with my team",
     ["my coworkers edit the same page with me", "sending meeting notes to colleagues"]),
    ("export-notes", "Get my notes out into other formats like PDF or Word",
     ["I export notes as PDF for my clients", "printing and exporting documents"]),
    ("sync-devices", "Have my notes on every device I use",
     ["notes appear on my phone and laptop", "syncing between tablet and desktop"]),
)

PRAISE = [
    "Love how fast I can {capture}. Best {kind} I have used in years.",
    "Clean design and it just works. I {capture} every morning without friction.",
    "Search is superb, I find old notes in a second. Five stars from me.",
    "The tagging makes it so easy to keep my notebooks organised. Really happy with it.",
    "Sync between my phone and laptop is instant. Great job to the team.",
    "Sharing a page with my colleagues is effortless, we plan every sprint in here.",
    "Simple, quick and reliable. Exactly what a {kind} should be.",
    "I moved all my recipes and journals here and never looked back. Wonderful app.",
    "Widgets on the home screen are brilliant for quick thoughts. Thank you!",
    "Reliable for years now, never lost a single note. Highly recommended.",
]
REQUESTS = [
    "Please add a dark mode, the white background hurts my eyes at night.",
    "Would love to see handwriting recognition for my stylus notes.",
    "I wish I could set reminders on a note, that is the one thing missing.",
    "Please let us nest notebooks inside other notebooks, the flat list gets messy.",
    "It needs a way to lock individual notes with a passcode.",
    "Could you add templates for meeting notes? I retype the same headings every day.",
    "A web version would be great so I can use it on my work computer.",
    "Please support markdown tables, I keep needing them for comparisons.",
]
PROBLEMS = [
    "Sometimes the app asks me to log in again for no reason, annoying.",
    "Images in notes load slowly on mobile data.",
    "The keyboard covers the last line when typing in landscape mode.",
    "Search did not find a note I know exists until I restarted the app.",
    "The widget shows an old version of my note until I open the app.",
    "Font size setting resets after every update.",
]
QUESTIONS = [
    "How do I move a notebook to a different account?",
    "Is there a way to export all my notes at once before I switch phones?",
    "Does the app keep a history of edits so I can restore an older version?",
]
# The emerging issue of the own product: crashes when exporting to PDF since 4.2.
BURST = [
    "Since the 4.2 update the app crashes every time I export a note to PDF.",
    "Export to PDF is broken after the latest update, the app just closes.",
    "Crash when exporting to PDF. Worked fine before version 4.2, please fix.",
    "Every PDF export makes the app crash now. I need this for work!",
    "Tried to export my meeting notes as PDF and the app crashed three times in a row.",
    "PDF export crashes the app since updating to 4.2. Reinstalling did not help.",
    "App crashes immediately when I tap export to PDF. Very frustrating after the update.",
    "The new update broke PDF export completely, crash every single time.",
    "Cannot export anything to PDF anymore, the app crashes and I lose my place.",
    "Export as PDF crashes on my iPad since 4.2. Please roll back or fix it.",
    "Whenever I export a long note to PDF the app freezes and then crashes.",
    "Crashing on PDF export, started right after the 4.2 update this week.",
    "PDF export is unusable, crashes the app every time. Clients are waiting on my notes.",
    "Latest version crashes during PDF export, I had to email screenshots instead.",
    "After updating, exporting notes to PDF makes the app crash instantly.",
    "Export to PDF crash again today. Two days now without being able to share my notes.",
]
FORUM_TOPICS = [
    ("Export to PDF crashes in 4.2", [
        "Since I updated to 4.2 the app crashes whenever I export to PDF. Anyone else?",
        "Same here, every PDF export crashes the app on my phone.",
        "Confirmed on two devices, the crash happens as soon as the PDF export starts.",
    ]),
    ("Feature idea: reminders on notes", [
        "It would be really useful to attach a reminder to a note, like a due date.",
        "Yes please, I would use reminders every day.",
    ]),
    ("How do you organise your notebooks?", [
        "I use one notebook per project and tags for people. What works for you?",
        "Tags only for me, search does the rest. Works great.",
    ]),
]
# Two contexts of one job ("Get my notes out into other formats"), each with its own need: people on an iPad
# with a pencil want their handwriting kept in exports; people exporting for clients at work want Word files.
# Spread over the history (no burst), so they show as needs-based segments, not as an emerging issue.
CONTEXTS = {
    "notely": [
        "I write everything on my iPad with the Apple Pencil, but when I export my notes the handwriting is lost. "
        "Please export handwriting properly.",
        "On my iPad with a pencil, exporting notes drops my handwriting. I need it in the exported file.",
        "Handwritten notes on my iPad do not come through when I export them, only the typed text does.",
        "Exporting pencil drawings from my iPad gives a blank page. Please keep handwriting in exports.",
        "I take all my notes on my iPad with a stylus, and export has to keep the handwriting. Useless without it.",
        "Would love a proper handwriting export on my iPad, my pencil notes come out as empty boxes.",
        "On the iPad my Apple Pencil notes cannot be exported as an image with the ink intact.",
        "I send meeting notes to my clients at work and they need Word files. Please add export to Word (.docx).",
        "For my clients I have to paste every note into Word by hand. A docx export would save me an hour.",
        "At work everyone uses Word, so exporting notes as .docx is a must for me.",
        "Export to Word please! My boss at work only accepts docx reports.",
        "For work I need my notes in Word format for our clients, an export I can edit.",
        "Please add a Word export, I share project notes with clients at work every week.",
        "Clients at work keep asking for editable files. Exporting notes to Word would fix that.",
    ],
    "jotter": [
        "Exporting notes from my iPad keeps my handwriting perfectly, pencil ink and all. Love it.",
        "On my iPad with the Apple Pencil, exporting handwritten notes just works. Great app.",
        "Exporting my pencil notes from the iPad to a file keeps every stroke. Brilliant.",
    ],
    "scribbly": [
        "The Word export is great for my clients at work, they get editable docx files. Thank you.",
        "For work I export meeting notes to Word every week and my clients love it.",
    ],
}
# Posts from the other steps of the customer's process (choose, get, set-up, learn, get-help, pay, leave), so the
# job map has more than `use` to show: Notely's sign-in and import troubles after setting up against its
# competitors' easy onboarding, Jotter's billing complaints. (title, text, rating), spread over the last weeks.
JOURNEY = {
    "notely": [
        ("Can't sign in", "I can't sign in since the update, it keeps rejecting my password.", 1),
        ("Logged out again", "Setting up the app on a second phone failed, sign in keeps looping back to the "
         "start.", 2),
        ("Import failed", "Importing my notes from Evernote failed halfway and half my notebooks are missing.", 2),
        ("Import broke my notebooks", "The import from my old app scrambled every notebook, I had to sort them again.",
         2),
        ("Setup took ages", "Connecting my calendar during setup took ages, the connect screen kept timing out.", 2),
        ("Sign-in code never came", "Creating my account failed, the sign-in code email never arrived.", 1),
        ("Where is the setting?", "Where is the setting to change the default notebook? I could not find it in the "
         "help pages.", 3),
        ("Charged twice", "I was charged twice for the premium plan and nobody has refunded me yet.", 1),
        ("Moving on", "Cancelled my subscription and moved all my notebooks to another app.", 1),
    ],
    "jotter": [
        ("Easy onboarding", "Onboarding was painless, it imported my old notes and connected my calendar in a "
         "minute.", 5),
        ("Smooth import", "Importing everything from my previous app took two minutes and kept every notebook.", 5),
        ("Signed in instantly", "Setting up was easy, I signed in with my existing account and was ready to go.", 5),
        ("Price doubled", "The yearly subscription doubled in price without any warning.", 1),
        ("Billing mess", "I was billed for the family plan after downgrading, and the refund took weeks.", 2),
        ("Picked this one", "Compared five notes apps before choosing this one, the free trial convinced me.", 5),
    ],
    "scribbly": [
        ("Painless setup", "Setup was quick, the import brought over all my notes and tags without a hitch.", 5),
        ("Great support", "Support fixed my sync problem within an hour, great help.", 5),
        ("Fair price", "Fair price for what you get, the family plan is good value.", 5),
        ("Won't install", "Downloading the app from the store failed twice, the install never finished.", 2),
    ],
}
AUTHORS = ["maria_k", "tom.b", "JJ", "notesfan", "quietwriter", "Sam R", "lucia", "devon", "pkumar", "avery",
           "chris_w", "hana", "oleg", "bea", "yusuf", "nina", "rob", "ines", "kai", "zoe"]


@dataclass(frozen=True)
class DemoReview:
    """One review before it is written in the App Store feed's shape."""

    id: str
    title: str
    text: str
    rating: int
    version: str
    author: str
    created: datetime


def _pick_text(rng: random.Random, product: DemoProduct) -> tuple[str, int]:
    roll = rng.random()
    kind = "notes app"
    if roll < 0.45:
        return rng.choice(PRAISE).format(capture="capture ideas", kind=kind), rng.choice([4, 5, 5])
    if roll < 0.70:
        return rng.choice(REQUESTS), rng.choice([3, 3, 4])
    if roll < 0.90:
        return rng.choice(PROBLEMS), rng.choice([2, 3])
    return rng.choice(QUESTIONS), 3


# The draw of the demo's content. It used to be the demo's date, so the posts (and what the demo then finds:
# which products' reminder requests form issues, which themes link them) changed from one day to the next and
# the demo's own checks failed on some days. One fixed draw, the one those checks were written against.
CONTENT_SEED = "2026-12-07"


def reviews_for(product: DemoProduct, today: date) -> list[DemoReview]:
    """The product's reviews over the demo's history, newest first; the own product gets the burst."""
    rng = random.Random(f"{product.slug}-{CONTENT_SEED}")
    start = datetime(today.year, today.month, today.day, tzinfo=UTC) - timedelta(days=HISTORY_DAYS)
    reviews: list[DemoReview] = []
    for day in range(HISTORY_DAYS):
        for _ in range(rng.choice([1, 2, 2, 3])):
            text, rating = _pick_text(rng, product)
            version = product.versions[min(len(product.versions) - 1, day * len(product.versions) // HISTORY_DAYS)]
            created = start + timedelta(days=day, hours=rng.randint(6, 22), minutes=rng.randint(0, 59))
            reviews.append(DemoReview(f"{product.app_id}{len(reviews):05d}", text.split(".")[0][:40], text,
                                      rating, version, rng.choice(AUTHORS), created))
    if product.own:
        for i, text in enumerate(BURST):
            created = start + timedelta(days=HISTORY_DAYS - 2 + i * 2 // len(BURST), hours=7 + i % 12,
                                        minutes=rng.randint(0, 59))
            reviews.append(DemoReview(f"{product.app_id}9{i:04d}", "PDF export crash", text, rng.choice([1, 1, 2]),
                                      product.versions[-1], rng.choice(AUTHORS), created))
    contexts = CONTEXTS.get(product.slug, [])
    ctx_rng = random.Random(f"{product.slug}-contexts-{CONTENT_SEED}")  # the other posts stay as they were
    for i, text in enumerate(contexts):
        day = ctx_rng.randint(HISTORY_DAYS - 28, HISTORY_DAYS - 3)  # inside the demo report's 30 days
        created = start + timedelta(days=day, hours=ctx_rng.randint(6, 22), minutes=ctx_rng.randint(0, 59))
        version = product.versions[min(len(product.versions) - 1, day * len(product.versions) // HISTORY_DAYS)]
        positive = product.slug != "notely"
        reviews.append(DemoReview(f"{product.app_id}8{i:04d}", text.split(".")[0][:40], text,
                                  ctx_rng.choice([4, 5]) if positive else ctx_rng.choice([2, 3]), version,
                                  ctx_rng.choice(AUTHORS), created))
    journey_rng = random.Random(f"{product.slug}-journey-{CONTENT_SEED}")  # the other posts stay as they were
    for i, (title, text, rating) in enumerate(JOURNEY.get(product.slug, [])):
        day = journey_rng.randint(HISTORY_DAYS - 28, HISTORY_DAYS - 3)  # inside the demo report's 30 days
        created = start + timedelta(days=day, hours=journey_rng.randint(6, 22), minutes=journey_rng.randint(0, 59))
        version = product.versions[min(len(product.versions) - 1, day * len(product.versions) // HISTORY_DAYS)]
        reviews.append(DemoReview(f"{product.app_id}7{i:04d}", title, text, rating, version,
                                  journey_rng.choice(AUTHORS), created))
    reviews.sort(key=lambda r: r.created, reverse=True)
    return reviews


def _label(value: str) -> dict[str, str]:
    return {"label": value}


def appstore_feed(product: DemoProduct, reviews: list[DemoReview], page: int, pages: int, country: str) -> dict:
    """One page of the customer-reviews feed in the App Store's JSON shape."""
    chunk = reviews[(page - 1) * FEED_PAGE_SIZE: page * FEED_PAGE_SIZE]
    base = f"https://itunes.apple.com/{country}/rss/customerreviews"
    entries = [{
        "author": {"uri": _label(f"https://itunes.apple.com/{country}/reviews/id{abs(hash(r.author)) % 10**9}"),
                   "name": _label(r.author), "label": ""},
        "updated": _label(r.created.astimezone(timezone(timedelta(hours=-7))).isoformat()),
        "im:rating": _label(str(r.rating)),
        "im:version": _label(r.version),
        "id": _label(r.id),
        "title": _label(r.title),
        "content": {"label": r.text, "attributes": {"type": "text"}},
        "link": {"attributes": {"rel": "related", "href": f"https://itunes.apple.com/{country}/review?id={product.app_id}"}},
        "im:voteSum": _label("0"),
        "im:contentType": {"attributes": {"term": "Application", "label": "Application"}},
        "im:voteCount": _label("0"),
    } for r in chunk]
    links = [{"attributes": {"rel": rel, "href": f"{base}/page={n}/id={product.app_id}/sortby=mostrecent/xml"}}
             for rel, n in (("first", 1), ("last", pages), ("previous", max(1, page - 1)),
                            ("next", min(pages, page + 1)))]
    return {"feed": {
        "author": {"name": _label("iTunes Store"), "uri": _label("http://www.apple.com/itunes/")},
        "entry": entries,
        "updated": _label(datetime.now(UTC).replace(microsecond=0).isoformat()),
        "rights": _label("Copyright 2026 Apple Inc."),
        "title": _label("iTunes Store: Customer Reviews"),
        "icon": _label("http://itunes.apple.com/favicon.ico"),
        "link": links,
        "id": _label(f"{base}/id={product.app_id}/sortby=mostrecent/json"),
    }}


def discourse_site(today: date) -> dict[str, Any]:
    """``/latest.json`` and ``/t/{id}.json`` bodies of the own product's forum, keyed by path."""
    start = datetime(today.year, today.month, today.day, tzinfo=UTC)
    bodies: dict[str, Any] = {}
    topics = []
    for n, (title, posts) in enumerate(FORUM_TOPICS, start=1):
        topic_id = 100 + n
        first = start - timedelta(days=1 if n == 1 else 10 + n, hours=3)
        slug = title.lower().replace(":", "").replace(" ", "-")
        topics.append({
            "id": topic_id, "title": title, "fancy_title": title, "slug": slug, "posts_count": len(posts),
            "reply_count": len(posts) - 1, "highest_post_number": len(posts), "image_url": None,
            "created_at": first.isoformat().replace("+00:00", "Z"),
            "last_posted_at": (first + timedelta(hours=len(posts))).isoformat().replace("+00:00", "Z"),
            "bumped": True, "bumped_at": (first + timedelta(hours=len(posts))).isoformat().replace("+00:00", "Z"),
            "unseen": False, "pinned": False, "visible": True, "closed": False, "archived": False, "views": 40 * n,
            "like_count": n, "has_best_of": False, "archetype": "regular", "last_poster_username": AUTHORS[n],
            "category_id": 4, "posters": [{"extras": None, "description": "Original Poster", "user_id": n}],
        })
        stream = []
        for i, text in enumerate(posts, start=1):
            stream.append({
                "id": topic_id * 100 + i, "name": AUTHORS[(n + i) % len(AUTHORS)],
                "username": AUTHORS[(n + i) % len(AUTHORS)].replace(" ", "_"),
                "created_at": (first + timedelta(hours=i)).isoformat().replace("+00:00", "Z"),
                "cooked": f"<p>{text}</p>", "post_number": i, "post_type": 1,
                "updated_at": (first + timedelta(hours=i)).isoformat().replace("+00:00", "Z"),
                "reply_count": 0, "reply_to_post_number": None if i == 1 else 1, "topic_id": topic_id,
                "topic_slug": slug, "display_username": AUTHORS[(n + i) % len(AUTHORS)], "version": 1,
                "user_id": n + i, "hidden": False, "deleted_at": None,
            })
        bodies[f"/t/{topic_id}.json"] = {
            "post_stream": {"posts": stream, "stream": [p["id"] for p in stream]},
            "id": topic_id, "title": title, "fancy_title": title, "posts_count": len(posts),
            "created_at": first.isoformat().replace("+00:00", "Z"), "slug": slug, "category_id": 4,
            "archetype": "regular", "visible": True, "closed": False, "archived": False,
        }
    bodies["/latest.json"] = {"users": [], "topic_list": {"can_create_topic": False, "draft": None,
                                                          "draft_key": "new_topic", "draft_sequence": None,
                                                          "per_page": 30, "topics": topics}}
    return bodies
