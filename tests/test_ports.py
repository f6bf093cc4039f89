"""Port reservations keep parallel imapwright processes from starting servers on the same port."""

import os

from imapwright.servers import ports


def test_a_reserved_port_is_not_handed_out_again(tmp_path, monkeypatch):
    monkeypatch.setattr(ports, "RESERVATIONS", tmp_path)
    port = ports.free_port()
    assert (tmp_path / str(port)).read_text() == str(os.getpid())
    assert ports.reserve(port) is False  # held by a live process (this one)
    ports.release(port)
    assert ports.reserve(port) is True


def test_a_reservation_of_a_dead_process_is_taken_over(tmp_path, monkeypatch):
    monkeypatch.setattr(ports, "RESERVATIONS", tmp_path)
    (tmp_path / "40000").write_text("999999999")
    assert ports.reserve(40000) is True
    assert (tmp_path / "40000").read_text() == str(os.getpid())


def test_release_leaves_another_process_reservation_alone(tmp_path, monkeypatch):
    monkeypatch.setattr(ports, "RESERVATIONS", tmp_path)
    (tmp_path / "40001").write_text("1")
    ports.release(40001)
    assert (tmp_path / "40001").exists()
