"""HTTP serving: FastAPI app built by create_app(settings)."""
