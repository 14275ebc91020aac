"""Run with ``python -m wizard.server --port 8765``."""

import argparse

from fastapi import FastAPI

from .routes import health

app = FastAPI(title="uDOS Wizard")
app.include_router(health.router)


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    uvicorn.run(app, host=args.host, port=args.port)


if __name__ == "__main__":
    main()
