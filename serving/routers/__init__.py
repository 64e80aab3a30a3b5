"""One router per resource: ask, search, docs, health (+ optional ones such as video)."""
