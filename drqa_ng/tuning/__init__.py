"""Training loops for the retrieval encoders (the reader's own lives in ``drqa_ng.reading.train``).

A room of its own because it uses both sides: pairs and static models from ``retrieval``, the
resumable training state and precision checks from ``reading``; neither of those imports it.
"""
