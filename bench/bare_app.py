"""The baseline for bench/intake.py: a bare FastAPI endpoint that reads the body and answers."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

app = FastAPI()


@app.post("/webhooks/github")
async def webhook(request: Request) -> JSONResponse:
    body = await request.body()
    return JSONResponse({"bytes": len(body)}, status_code=202)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
