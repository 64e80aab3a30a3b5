"""Answer ranking learned on train splits (``answers``: features, model, Platt scaling)."""
