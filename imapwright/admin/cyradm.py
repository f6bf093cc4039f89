"""The book's administration tool itself: Cyrus's `cyradm` (Perl, Cyrus::IMAP::Admin) in batch
mode, commands on stdin, against a server's IMAP port.

On a Cyrus server with an exec channel it is the server's own cyradm (its version's rights
abbreviations); elsewhere (Dovecot, a target without exec) the cyradm of the catalogue's Cyrus
image, run in a throwaway container on the host network, as a plain IMAP client.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..catalogue import DEFAULT_SERVER, lookup
from ..servers.handle import ServerHandle


# The password reaches cyradm through the environment of the exec, then its --password argument
# inside the container (cyradm reads no password from anywhere else without a terminal).
_RUN = ('printf "%s" "$IW_SCRIPT" | TERM=dumb cyradm --notls --user "$IW_USER" --password "$IW_PW" '
        '--port "$IW_PORT" --server {host} 2>&1; echo "@@exit $?"')


@dataclass
class CyradmRun:
    commands: list[str]
    outputs: list[str]  # one per command: what cyradm printed in answer to it
    exit_code: int
    banner: str  # printed before the first prompt (warnings, a refused login)

    def output(self, index: int = -1) -> str:
        return self.outputs[index]


def run_cyradm(server: ServerHandle, commands: list[str], user: str | None = None,
               password: str | None = None) -> CyradmRun:
    """Run the commands in one cyradm session as `user` (default: the admin)."""
    env = {"IW_SCRIPT": "".join(c + "\n" for c in commands), "IW_USER": user or server.admin_user,
           "IW_PW": password if password is not None else server.admin_password,
           "IW_PORT": str(server.imap.port)}
    # The prompt names the host cyradm was given; an alias in /etc/hosts would be needed for any
    # other name, so the loopback address is given and the prompt is matched as it comes.
    script = _RUN.format(host=server.imap.host)
    if server.family_name == "cyrus" and "exec" in server.features:
        text = server.exec(["sh", "-c", script], environment=env).stdout
    else:
        text = _client_container(script, env)
    return parse_session(commands, text, server.imap.host)


def _client_container(script: str, env: dict[str, str]) -> str:
    from ..servers import engine
    from ..servers.images import ensure_image

    image = ensure_image(lookup(DEFAULT_SERVER))
    out = engine.client().containers.run(image.id, ["-c", script], entrypoint="sh", network_mode="host",
                                         environment=env, remove=True, stdout=True, stderr=True)
    return out.decode(errors="replace")


def parse_session(commands: list[str], text: str, host: str) -> CyradmRun:
    """Split cyradm's output at its prompts ("HOST> "): the text after the Nth prompt answers the
    Nth command; the text before the first is the banner."""
    body, _, code = text.rpartition("@@exit ")
    parts = re.split(re.escape(f"{host}> "), body)
    banner, answers = parts[0], [p.strip("\n") for p in parts[1:]]
    answers = (answers + [""] * len(commands))[:len(commands)]
    return CyradmRun(commands, answers, int(code.strip() or -1), banner.strip())
