"""The HTTP surfaces: one Powertools Router per provider's API shape (and ours). Routes parse, call a
service, and render with the surface's dialect; the services they use are dependencies that each
function's entry point provides (asyncinfer.handlers)."""
