"""Images say what they hold, and a failing build says where it failed."""

import pytest

from imapwright.catalogue import ServerSpec
from imapwright.errors import ServerError
from imapwright.servers import engine
from imapwright.servers.images import build, find_image


def test_image_labels_match_the_running_server(server):
    if not server.owned:
        pytest.skip("needs a server imapwright started")
    image = find_image(server.spec)
    assert image.labels[engine.LABEL_SERVER] == server.name
    reported = server.exec(["/usr/local/bin/server-version.sh"]).check().stdout.strip()
    assert image.labels[engine.LABEL_VERSION] == reported == server.version
    # The catalogue's promise: cyrus:3.6 runs a 3.6.x server.
    assert reported.split("-")[0].startswith(server.spec.version + ".")


def test_failing_build_reports_step_and_last_output(tmp_path):
    (tmp_path / "Dockerfile").write_text(
        "ARG BASE\nFROM ${BASE}\nRUN echo preparing && echo about to fail && exit 3\n")
    spec = ServerSpec("broken:1.0", "broken", "1.0", "bookworm", context=tmp_path)
    with pytest.raises(ServerError) as info:
        build(spec)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("broken:1.0: image build failed at step 3/")
    assert "returned a non-zero code: 3" in message and "about to fail" in message
