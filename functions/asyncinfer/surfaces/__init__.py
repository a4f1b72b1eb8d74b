"""The HTTP surfaces: one module per provider's API shape (and ours), each with its router, its requests and
answers, and its renderer of a task read; the edge they share (asyncinfer.surfaces.edge, .contract). Routes
parse, call a service, and render; the services they use are dependencies that each function's entry point
provides (asyncinfer.handlers)."""
