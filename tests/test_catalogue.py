import pytest

from imapwright.catalogue import CATALOGUE, ServerSpec, lookup, read_user_catalogue, register
from imapwright.errors import UserError


def test_catalogue_names_and_releases():
    assert {n: s.release for n, s in CATALOGUE.items()} == {
        "cyrus:3.2": "bullseye", "cyrus:3.6": "bookworm", "cyrus:3.10": "trixie", "cyrus:3.12": "forky",
        "dovecot:2.3": "bookworm", "dovecot:2.4": "trixie"}
    assert all(s.context_dir.joinpath("Dockerfile").is_file() for s in CATALOGUE.values())


def test_unknown_server_lists_known_ones():
    with pytest.raises(UserError, match="known servers: cyrus:3.2, cyrus:3.6"):
        lookup("exim:4")


def test_custom_without_an_image_says_how():
    with pytest.raises(UserError, match=r"cyrus:custom: give the image with --image IMAGE"):
        lookup("cyrus:custom")


def _write(tmp_path, text):
    path = tmp_path / "mine.toml"
    path.write_text(text)
    return path


def test_user_catalogue_entries(tmp_path):
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "Dockerfile").write_text("ARG BASE\nFROM ${BASE}\n")
    specs = read_user_catalogue(_write(tmp_path, """
[servers."cyrus:candidate"]
family = "cyrus"
image = "mycorp/cyrus:rc1"
version = "3.12"

[servers."dovecot:branch"]
family = "dovecot"
context = "ctx"
release = "trixie"
version = "2.4"
"""))
    by_name = {s.name: s for s in specs}
    assert by_name["cyrus:candidate"].image_tag == "mycorp/cyrus:rc1"
    assert by_name["cyrus:candidate"].version_tuple == (3, 12) and by_name["cyrus:candidate"].is_own
    assert by_name["dovecot:branch"].image_tag == "imapwright/user-dovecot-branch"
    assert by_name["dovecot:branch"].context_dir == (tmp_path / "ctx").resolve()


@pytest.mark.parametrize("text,message", [
    ("not toml [", "not TOML"),
    ("[other]\nx = 1\n", r'no \[servers."NAME"\] tables'),
    ('[servers."a"]\nfamily = "exim"\nimage = "x"\n', "family must be one of cyrus, dovecot"),
    ('[servers."a"]\nfamily = "cyrus"\n', "give image or context"),
    ('[servers."a"]\nfamily = "cyrus"\nimage = "x"\ncontext = "y"\n', "give image or context"),
    ('[servers."a"]\nfamily = "cyrus"\ncontext = "nowhere"\n', "no Dockerfile in"),
    ('[servers."a"]\nfamily = "cyrus"\nimage = "x"\ncolour = "red"\n', "unknown keys colour"),
])
def test_bad_user_catalogues_are_one_line(tmp_path, text, message):
    with pytest.raises(UserError, match=message) as info:
        read_user_catalogue(_write(tmp_path, text))
    assert "\n" not in str(info.value)


def test_a_catalogue_server_cannot_be_redefined():
    with pytest.raises(UserError, match="a catalogue server"):
        register(ServerSpec("cyrus:3.6", "cyrus", "3.6", "", image="x"))
