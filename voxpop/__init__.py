"""voxpop: everything of ours beyond the card's top-level rooms (spiders, classify, store, alerts, scheduler)."""
