"""`make dev` with OPENAI_BASE_URL: the local chat models are served by an OpenAI-compatible server."""

import pytest

from tests.e2e.conftest import start_stack, stop_stack, wait_for
from tests.support.openai_server import WORDS, OpenAIServer

pytestmark = pytest.mark.e2e


def test_local_chat_models_go_to_the_openai_compatible_server():
    with OpenAIServer() as server:
        stack = start_stack(OPENAI_BASE_URL=server.base_url, OPENAI_MODEL="stream-ok", OPENAI_API_KEY="sk-local")
        try:
            with stack.client() as client:
                task_id = client.post(
                    "/v1/async", json={"model": "demo-chat", "messages": [{"role": "user", "content": "hi"}]}
                ).json()["id"]
                done = wait_for(
                    lambda: (t := client.get(f"/v1/async/{task_id}").json())["status"] == "COMPLETED" and t,
                    what="COMPLETED",
                )
                # Generation still uses the offline demo model.
                image = client.post("/v1/generation", json={"model": "demo-image", "config": {"prompt": "x"}}).json()
                wait_for(
                    lambda: client.get(f"/v1/generation/{image['id']}").json()["status"] == "completed", what="image"
                )
        finally:
            stop_stack(stack)
    assert done["choices"][0]["message"]["content"] == "".join(WORDS)
    assert done["usage"]["prompt_tokens"] == 12
    (sent,) = [r for r in server.recorded.requests if r["_path"] == "/v1/chat/completions"]
    assert sent["model"] == "stream-ok" and sent["_auth"] == "Bearer sk-local"
