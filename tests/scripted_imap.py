"""Scripted IMAP servers the load clients' tests run beside them (in the same process, on a
thread): each a block of code that listens on PORT."""

# Connection 1: LOGIN ok, SELECT NO, SELECT ok, APPEND refused before its literal, APPEND ok, then
# the connection breaks in the middle of a FETCH answer. Connection 2: LOGIN ok, then SEARCH is
# never answered. Both load clients (load/imap.py, load/imap_loop.py) must keep the session on NO
# and drop it on the break and on the silence.
BROKEN_SESSIONS = r'''
import socket, threading, time
listener = socket.create_server(("127.0.0.1", 0))
PORT = listener.getsockname()[1]

def serve():
    # Connection 1: LOGIN ok, SELECT NO, SELECT ok, APPEND refused before its literal, APPEND ok,
    # then the connection breaks in the middle of a FETCH answer.
    # Connection 2: LOGIN ok, then SEARCH is never answered.
    conn, _ = listener.accept()
    f = conn.makefile("rb")
    conn.sendall(b"* OK ready\r\n")
    def tag():
        return f.readline().split(b" ")[0]
    conn.sendall(tag() + b" OK logged in\r\n")
    conn.sendall(tag() + b" NO no such mailbox\r\n")
    conn.sendall(b"* 2 EXISTS\r\n" + tag() + b" OK [READ-WRITE] selected\r\n")
    conn.sendall(tag() + b" NO [TRYCREATE] no\r\n")
    line = f.readline()
    conn.sendall(b"+ go\r\n")
    f.read(int(line.rsplit(b"{", 1)[1][:-3]) + 2)
    conn.sendall(line.split(b" ")[0] + b" OK [APPENDUID 7 42] done\r\n")
    tag()
    conn.sendall(b"* 1 FETCH (UID 1 BODY[] {100}\r\nonly part")
    conn.shutdown(socket.SHUT_RDWR)
    conn.close()
    conn, _ = listener.accept()
    f = conn.makefile("rb")
    conn.sendall(b"* OK ready\r\n")
    conn.sendall(tag() + b" OK logged in\r\n")
    tag()
    time.sleep(30)
threading.Thread(target=serve, daemon=True).start()
'''
