"""The web container's health check: `python -m matchpal.probe /healthz`.

Asks this machine's web server (port `PORT`, 8000 by default) for a path and exits 0 on a 2xx
answer, 1 otherwise. It imports no Django, so a probe every few seconds costs little.
"""

import os
import sys
import urllib.error
import urllib.request

TIMEOUT_SECONDS = 5


def main(argv: list[str]) -> int:
    path = argv[1] if len(argv) > 1 else "/healthz"
    url = f"http://127.0.0.1:{os.environ.get('PORT') or '8000'}{path}"
    # ALLOWED_HOSTS must name localhost (.env.example keeps it): that is the Host sent here.
    # The TLS proxy is outside the container: say the request came through it, as it would,
    # so an HTTPS redirect (SECURE_SSL_REDIRECT) does not answer instead of the page.
    headers = {"Host": "localhost", "X-Forwarded-Proto": "https"}
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            return 0 if 200 <= response.status < 300 else 1
    except (urllib.error.URLError, OSError) as error:
        print(f"{url}: {error}", file=sys.stderr)  # noqa: T201
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
