"""The crawl: Scrapy spiders for review sites and communities, and the pipelines that store their posts.

Layout (spiders navigate, pages parse):

- ``settings.py``: polite defaults (robots.txt, User-Agent ``voxpop/0.1 (+contact_url)``, AutoThrottle,
  2 requests per domain, retries with backoff, ``Retry-After`` up to ``RETRY_AFTER_MAX_S``).
- ``items.py``: :class:`~spiders.items.PostItem`, the one item every spider yields.
- ``pipelines.py``: validate and normalise (drops counted by reason), store in batches through
  ``store.repo.upsert_posts``, record the :class:`store.models.CrawlRun`.
- ``middlewares.py``: the retry middleware (backoff, ``Retry-After``) and a robots.txt fix.
- ``base.py``: :class:`~spiders.base.VoxpopSpider` (arguments, high-water mark, errors, caps).
- ``pages/<site>.py``: pure functions from a response body to post dicts; ``sites/<site>.py``: spiders.
- ``runner.py``: :func:`~spiders.runner.run_crawl`, one crawl in a subprocess with a timeout.
- ``writer.py``: batch writes (in a thread, or a helper process with ``VOXPOP_WRITER=process``).

Run one crawl from the project root::

    VOXPOP_DATABASE_URL=sqlite:///voxpop.db scrapy crawl appstore -a product=notely -a app_id=123 \\
        -a countries=us,gb [-a source=appstore] [-a since=2026-01-01] [-a base_url=http://127.0.0.1:8000]

Nothing here imports ``classify`` or torch: the crawl stores posts as pending.
"""
