"""The bodies API Gateway itself answers with, where the local dev server still reads them
(infra/local/devserver.py); they live in asyncinfer.surfaces.edge."""

from asyncinfer.surfaces.edge import ROUTE_NOT_FOUND, UNAUTHORIZED

__all__ = ["ROUTE_NOT_FOUND", "UNAUTHORIZED"]
