"""The Python client in a few lines: `python examples/client_quickstart.py` with ASYNCINFER_BASE_URL and
ASYNCINFER_API_KEY set (as `make dev` prints them)."""

import os
import tempfile

from asyncinfer_client import Client

with Client(os.environ["ASYNCINFER_BASE_URL"], os.environ["ASYNCINFER_API_KEY"]) as client:
    # Submit and follow the stream: deltas as they come; the call returns the completed task.
    done = client.run(
        "demo-chat",
        prompt="Why are asynchronous APIs useful?",
        on_event=lambda event: print(event.text, end="", flush=True),
        timeout=120,
    )
    # A TaskView: typed (status in one vocabulary, text, usage, files), and still the API's answer (a dict).
    print(f"\n{done['status']}: {done.usage['total_tokens']} tokens, {len(done.text)} characters")

    # Submit now, come back later: the id is all it takes to re-attach, from here or another process.
    task = client.submit("demo-chat", prompt="Summarize the last answer")
    running = task.wait(timeout=0.1, on_timeout="detach")
    print("detached while", running.status)
    print("re-attached:", client.attach(task.id).result(timeout=120)["status"])

    # A generation, its files downloaded through the URLs a read presigns.
    image = client.generate("demo-image", {"prompt": "a lighthouse at dawn"})
    for path in image.download(tempfile.mkdtemp(), timeout=120):
        print("saved", path.name, path.stat().st_size, "bytes")
