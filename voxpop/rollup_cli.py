"""``voxpop rollup``: recompute the rollups from the posts (``--rebuild``) or check them (``--verify``).

Registered in ``cli.py``. The rollups are kept exact by every write (``store.rollups``); a rebuild is
for a store written by something that bypassed the store layer, or to prove they are right.
"""

from __future__ import annotations

import json
import time

import click

from voxpop.core.errors import VoxpopError


@click.command("rollup")
@click.option("--rebuild", is_flag=True, help="Recompute the rollups from the posts (says how many rows were wrong).")
@click.option("--verify", is_flag=True, help="Compare the rollups with the posts without changing them.")
@click.option("--product", "products", multiple=True, help="Only this product (repeatable; default: all).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def rollup_cmd(state: object, rebuild: bool, verify: bool, products: tuple[str, ...], as_json: bool) -> None:
    """Rebuild or verify the rollups (sums per product, day and labels) that reports and pages read."""
    from sqlalchemy import select

    from store import rollups
    from store.models import Product

    if rebuild == verify:
        raise click.UsageError("give --rebuild or --verify")
    store = state.store  # type: ignore[attr-defined]
    started = time.perf_counter()
    with store.transaction() as session:
        ids = None
        if products:
            found = {slug: pid for slug, pid in session.execute(
                select(Product.slug, Product.id).where(Product.slug.in_(list(products))))}
            missing = [p for p in products if p not in found]
            if missing:
                known = ", ".join(sorted(session.scalars(select(Product.slug)))) or "none"
                raise VoxpopError(f"unknown product(s): {', '.join(missing)} (known: {known})")
            ids = [found[p] for p in products]
        result = rollups.rebuild(session, ids) if rebuild else rollups.verify(session, ids)
    result = {"action": "rebuild" if rebuild else "verify", "products": list(products) or "all", **result,
              "seconds": round(time.perf_counter() - started, 3)}
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    wrong = result["differences"] + result["issue_differences"]
    verb = "rebuilt" if rebuild else "verified"
    click.echo(f"{verb} {result['rows']} rollup rows in {result['seconds']} s: "
               + (f"{wrong} row(s) {'were' if rebuild else 'are'} wrong" if wrong else "all equal to the posts"))
    if verify and wrong:
        raise SystemExit(1)
