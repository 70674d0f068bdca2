"""`vaekit explore`: a local web page to move through a trained model's latent space.

`Explorer` (explorer.py) holds the loaded run and does the decoding; `create_app` (app.py) is the
FastAPI app that validates every request and serves the page (page.html, inline JS and CSS).
"""

from vaekit.web.app import create_app
from vaekit.web.explorer import Explorer, RequestError

__all__ = ["Explorer", "RequestError", "create_app"]
