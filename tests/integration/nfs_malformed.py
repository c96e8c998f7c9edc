#!/usr/bin/env python3
"""nfs_malformed.py - ONC RPC (RFC 5531) over TCP as no NFS client sends it,
against slated's NFS port: broken record marking, wrong RPC, program,
version and procedure numbers, undecodable arguments, credentials of the
wrong flavor or malformed, pipelined and fragmented calls.  Each answer must
be the one RFC 5531 prescribes, and after each case a fresh connection must
still get NULL answered, as must a connection opened before them all (the
daemon stays up and keeps serving others).

  nfs_malformed.py PORT [MOUNTPORT]
      the cases above; MOUNT is on PORT unless MOUNTPORT is given
  nfs_malformed.py --secure PORT SECURE_EXPORT INSECURE_EXPORT [MOUNTPORT]
      MNT of SECURE_EXPORT, and GETATTR with its handle, are refused from a
      port >= 1024 and work from a reserved one (needs root); MNT of
      INSECURE_EXPORT works from any port

Prints "ok   what" / "FAIL what (why)" per check and "N passed, N failed".
nfs_malformed.sh runs it under slated; tests/nfs_ganesha.sh runs it against
nfs-ganesha.
"""
import errno
import os
import socket
import struct
import sys
import time

HOST = "127.0.0.1"
NFS_PROG, MOUNT_PROG = 100003, 100005
CALL, REPLY = 0, 1
MSG_ACCEPTED, MSG_DENIED = 0, 1
SUCCESS, PROG_UNAVAIL, PROG_MISMATCH, PROC_UNAVAIL, GARBAGE_ARGS = 0, 1, 2, 3, 4
RPC_MISMATCH, AUTH_ERROR = 0, 1
AUTH_BADCRED, AUTH_TOOWEAK = 1, 5
AUTH_NONE, AUTH_SYS = 0, 1
NFS3ERR_BADHANDLE = 10001
REPLY_WAIT_S = 10

passed = failed = 0


def check(cond, what):
    global passed, failed
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if cond:
        passed += 1
    else:
        failed += 1
    return cond


# ---- XDR and RPC encoding --------------------------------------------------

def u32(v):
    return struct.pack(">I", v & 0xFFFFFFFF)


def opaque(b):
    return u32(len(b)) + b + b"\0" * (-len(b) % 4)


def auth_sys_body(uid=0, gid=0, gids=(), machine=b"nfs-malformed"):
    return (u32(int(time.time())) + opaque(machine) + u32(uid) + u32(gid) +
            u32(len(gids)) + b"".join(u32(g) for g in gids))


def auth(flavor, body=b""):
    return u32(flavor) + opaque(body)


SYS_CRED = auth(AUTH_SYS, auth_sys_body())
NO_AUTH = auth(AUTH_NONE)


def call(xid, prog, vers, proc, args=b"", cred=SYS_CRED, rpcvers=2):
    return (u32(xid) + u32(CALL) + u32(rpcvers) + u32(prog) + u32(vers) +
            u32(proc) + cred + NO_AUTH + args)


def record(msg):
    """One record, one fragment (last-fragment bit set)."""
    return u32(0x80000000 | len(msg)) + msg


def fragments(msg, sizes):
    """One record cut into fragments of the given sizes (rest in the last)."""
    out, pos = b"", 0
    for n in sizes:
        out += u32(n) + msg[pos:pos + n]
        pos += n
    rest = msg[pos:]
    return out + u32(0x80000000 | len(rest)) + rest


# ---- connections and replies -------------------------------------------------

def connect(port, src_port=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if src_port is not None:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((HOST, src_port))
    s.settimeout(REPLY_WAIT_S)
    s.connect((HOST, port))
    return s


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError
        b += c
    return b


def read_record(s):
    """A whole record (fragments joined); EOFError when the peer closed,
    socket.timeout when nothing came."""
    msg = b""
    while True:
        mark = struct.unpack(">I", recv_exact(s, 4))[0]
        msg += recv_exact(s, mark & 0x7FFFFFFF)
        if mark & 0x80000000:
            return msg


def parse_reply(msg):
    """The reply header as a dict; 'results' is what follows it."""
    x = struct.unpack_from(">II", msg, 0)
    r = {"xid": x[0], "mtype": x[1]}
    off = 8
    r["stat"] = struct.unpack_from(">I", msg, off)[0]
    off += 4
    if r["stat"] == MSG_ACCEPTED:
        flavor, n = struct.unpack_from(">II", msg, off)
        off += 8 + n + (-n % 4)
        r["accept"] = struct.unpack_from(">I", msg, off)[0]
        off += 4
        if r["accept"] == PROG_MISMATCH:
            r["low"], r["high"] = struct.unpack_from(">II", msg, off)
            off += 8
    else:
        r["reject"] = struct.unpack_from(">I", msg, off)[0]
        off += 4
        if r["reject"] == RPC_MISMATCH:
            r["low"], r["high"] = struct.unpack_from(">II", msg, off)
            off += 8
        else:
            r["auth"] = struct.unpack_from(">I", msg, off)[0]
            off += 4
    r["results"] = msg[off:]
    return r


def describe(r):
    if r is None:
        return "no reply"
    if isinstance(r, str):
        return r
    if r["stat"] == MSG_ACCEPTED:
        s = "accepted, accept_stat %d" % r["accept"]
        if "low" in r:
            s += " (%d..%d)" % (r["low"], r["high"])
        return s
    if r["reject"] == RPC_MISMATCH:
        return "denied RPC_MISMATCH (%d..%d)" % (r["low"], r["high"])
    return "denied AUTH_ERROR auth_stat %d" % r["auth"]


def ask(port, data, close_write=False, wait=REPLY_WAIT_S):
    """Send data on a fresh connection; the first reply parsed, or a string
    saying what happened instead."""
    s = connect(port)
    s.settimeout(wait)
    try:
        s.sendall(data)
        if close_write:
            s.shutdown(socket.SHUT_WR)
        return parse_reply(read_record(s))
    except EOFError:
        return "connection closed"
    except socket.timeout:
        return NO_REPLY
    except OSError as e:
        return "socket error: %s" % e
    finally:
        s.close()


NO_REPLY = "no reply"
DROPPED = ("connection closed", NO_REPLY)


def accepted(r, xid, stat):
    return (isinstance(r, dict) and r["xid"] == xid and r["mtype"] == REPLY and
            r["stat"] == MSG_ACCEPTED and r["accept"] == stat)


def null_on(s, xid=0x4E554C4C, prog=NFS_PROG):
    s.sendall(record(call(xid, prog, 3, 0)))
    return accepted(parse_reply(read_record(s)), xid, SUCCESS)


def still_serving(port, after):
    """A fresh connection gets NULL answered."""
    try:
        s = connect(port)
        try:
            good = null_on(s)
        finally:
            s.close()
    except (OSError, EOFError) as e:
        good = False
        after += " (%s)" % e
    check(good, "after %s: a new connection gets NULL answered" % after)


def closed_within(s, seconds):
    """The peer closes s within seconds (whatever it sends first is read
    and dropped)."""
    s.settimeout(0.5)
    end = time.time() + seconds
    while time.time() < end:
        try:
            if not s.recv(65536):
                return True
        except socket.timeout:
            continue
        except OSError:
            return True
    return False


# ---- the cases -----------------------------------------------------------------

def run(port, mport):
    early = connect(port)
    check(null_on(early), "NFS NULL on a connection kept open through all the cases")
    if mport == port:
        check(null_on(early, 2, MOUNT_PROG), "MOUNT NULL on the same connection")
    m = connect(mport)
    check(null_on(m, 3, MOUNT_PROG), "MOUNT v3 NULL is answered")
    m.close()
    r = ask(port, record(call(4, NFS_PROG, 3, 0, cred=NO_AUTH)))
    check(accepted(r, 4, SUCCESS), "NFS NULL with AUTH_NONE is answered (%s)" % describe(r))

    # Record marking.
    s = connect(port)
    s.sendall(u32(0x80000000 | 100) + b"\0" * 20)
    s.close()
    still_serving(port, "a record cut short, then close")
    s = connect(port)
    s.sendall(u32(0x80000000 | 1000) + call(5, NFS_PROG, 3, 0)[:10])
    s.shutdown(socket.SHUT_WR)
    check(closed_within(s, REPLY_WAIT_S),
          "a record longer than what was sent, then EOF: the server closes too")
    s.close()
    still_serving(port, "a record past the end, then close")
    s = connect(port)
    s.sendall(u32(0x80000000 | 0x7FFFFFF0) + b"\0" * 64)
    check(closed_within(s, REPLY_WAIT_S),
          "a 2 GiB fragment length: the server closes that connection")
    s.close()
    still_serving(port, "a 2 GiB fragment length")
    # Non-last fragments whose sum grows past any sane limit.
    s = connect(port)
    chunk = u32(1 << 20) + b"\0" * (1 << 20)
    closed = False
    try:
        for _ in range(64):  # at most 64 MiB
            s.sendall(chunk)
    except OSError:
        closed = True
    check(closed or closed_within(s, REPLY_WAIT_S),
          "fragments adding up past the record limit: the server closes that connection")
    s.close()
    still_serving(port, "an endless multi-fragment record")
    r = ask(port, record(b"\0\0\x01"), wait=2)
    check(r in DROPPED, "a record too short for an xid gets no reply (%s)" % describe(r))
    still_serving(port, "a record too short for an xid")
    r = ask(port, record(call(6, NFS_PROG, 3, 0)[:30]), wait=2)
    check(accepted(r, 6, GARBAGE_ARGS) or r in DROPPED,
          "a call header cut inside its credential: GARBAGE_ARGS or dropped (%s)" % describe(r))
    still_serving(port, "a truncated call header")
    rep = u32(7) + u32(REPLY) + u32(MSG_ACCEPTED) + NO_AUTH + u32(SUCCESS)
    s = connect(port)
    s.sendall(record(rep))
    try:
        good = null_on(s, 8)
    except (OSError, EOFError):
        good = False
    check(good, "a REPLY sent to the server is ignored; the connection goes on")
    s.close()

    # Versions, programs, procedures.
    r = ask(port, record(call(10, NFS_PROG, 3, 0, rpcvers=3)))
    check(isinstance(r, dict) and r["xid"] == 10 and r["stat"] == MSG_DENIED and
          r["reject"] == RPC_MISMATCH and r["low"] == 2 and r["high"] == 2,
          "RPC version 3: MSG_DENIED RPC_MISMATCH 2..2 (%s)" % describe(r))
    still_serving(port, "RPC version 3")
    r = ask(port, record(call(11, 100099, 1, 0)))
    check(accepted(r, 11, PROG_UNAVAIL), "an unknown program: PROG_UNAVAIL (%s)" % describe(r))
    for vers in (2, 4):
        r = ask(port, record(call(12, NFS_PROG, vers, 0)))
        check(accepted(r, 12, PROG_MISMATCH) and r["low"] == 3 and r["high"] == 3,
              "NFS version %d: PROG_MISMATCH 3..3 (%s)" % (vers, describe(r)))
    r = ask(mport, record(call(13, MOUNT_PROG, 1, 0)))
    check(accepted(r, 13, PROG_MISMATCH) and r["low"] == 3 and r["high"] == 3,
          "MOUNT version 1: PROG_MISMATCH 3..3 (%s)" % describe(r))
    for proc in (22, 1000, 0xFFFFFFFF):
        r = ask(port, record(call(14, NFS_PROG, 3, proc)))
        check(accepted(r, 14, PROC_UNAVAIL), "NFS procedure %d: PROC_UNAVAIL (%s)" %
              (proc, describe(r)))
    r = ask(mport, record(call(15, MOUNT_PROG, 3, 6)))
    check(accepted(r, 15, PROC_UNAVAIL), "MOUNT procedure 6: PROC_UNAVAIL (%s)" % describe(r))
    still_serving(port, "wrong versions, programs and procedures")

    # Arguments that do not decode.
    garbage = [
        ("GETATTR with 2 bytes of arguments", NFS_PROG, 1, b"\0\0"),
        ("GETATTR with a 65-byte handle", NFS_PROG, 1, opaque(b"\1" * 65)),
        ("GETATTR with a handle length past the record", NFS_PROG, 1, u32(0x7FFFFFFF)),
        ("LOOKUP with a name length past the record", NFS_PROG, 3,
         opaque(b"\1" * 8) + u32(0xFFFFFFFF)),
        ("WRITE with no data opaque", NFS_PROG, 7,
         opaque(b"\1" * 8) + u32(0) + u32(0) + u32(10) + u32(0)),
        ("SETATTR with a bool of 7", NFS_PROG, 2, opaque(b"\1" * 8) + u32(7)),
        ("MNT with a path length past the record", MOUNT_PROG, 1, u32(0x00100000)),
    ]
    for i, (what, prog, proc, args) in enumerate(garbage):
        r = ask(mport if prog == MOUNT_PROG else port, record(call(20 + i, prog, 3, proc, args)))
        check(accepted(r, 20 + i, GARBAGE_ARGS), "%s: GARBAGE_ARGS (%s)" % (what, describe(r)))
    r = ask(mport, record(call(30, MOUNT_PROG, 3, 1, opaque(b"/" + b"d" * 1500))))
    check(accepted(r, 30, GARBAGE_ARGS) or
          (accepted(r, 30, SUCCESS) and struct.unpack_from(">I", r["results"])[0] == 63),
          "MNT of a 1501-byte path (over MNTPATHLEN): GARBAGE_ARGS or NAMETOOLONG (%s)" %
          describe(r))
    still_serving(port, "arguments that do not decode")

    # Credentials.
    r = ask(port, record(call(40, NFS_PROG, 3, 0, cred=auth(6, b"\0" * 20))))
    check(isinstance(r, dict) and r["xid"] == 40 and r["stat"] == MSG_DENIED and
          r["reject"] == AUTH_ERROR and r["auth"] == AUTH_TOOWEAK,
          "AUTH flavor 6 (RPCSEC_GSS): MSG_DENIED AUTH_ERROR AUTH_TOOWEAK (%s)" % describe(r))
    bad_sys = [
        ("a machine name longer than the body", u32(0) + u32(1000) + b"x" * 12),
        ("17 groups", auth_sys_body(gids=range(17))),
        ("a body cut after the machine name", u32(0) + opaque(b"host")),
        ("a 256-byte machine name", auth_sys_body(machine=b"m" * 256)),
    ]
    for i, (what, body) in enumerate(bad_sys):
        r = ask(port, record(call(41 + i, NFS_PROG, 3, 0, cred=auth(AUTH_SYS, body))))
        check(isinstance(r, dict) and r["xid"] == 41 + i and r["stat"] == MSG_DENIED and
              r["reject"] == AUTH_ERROR and r["auth"] == AUTH_BADCRED,
              "AUTH_SYS with %s: MSG_DENIED AUTH_ERROR AUTH_BADCRED (%s)" % (what, describe(r)))
    r = ask(port, record(call(50, NFS_PROG, 3, 0, cred=auth(AUTH_SYS, b"\0" * 404))))
    check(isinstance(r, dict) and r["xid"] == 50 and r["stat"] == MSG_DENIED and
          r["reject"] == AUTH_ERROR and r["auth"] == AUTH_BADCRED,
          "AUTH_SYS body over 400 bytes: MSG_DENIED AUTH_ERROR AUTH_BADCRED (%s)" % describe(r))
    still_serving(port, "bad credentials")

    # Pipelined calls in one write, answered in any order, matched by xid.
    calls = {
        101: (record(call(101, NFS_PROG, 3, 0)), lambda r: accepted(r, 101, SUCCESS)),
        102: (record(call(102, NFS_PROG, 3, 1, opaque(b"\xa5" * 40))),
              lambda r: accepted(r, 102, SUCCESS) and
              struct.unpack_from(">I", r["results"])[0] == NFS3ERR_BADHANDLE),
        103: (record(call(103, NFS_PROG, 3, 99)), lambda r: accepted(r, 103, PROC_UNAVAIL)),
        104: (record(call(104, NFS_PROG, 2, 0)), lambda r: accepted(r, 104, PROG_MISMATCH)),
        105: (fragments(call(105, NFS_PROG, 3, 0), [8, 16]),
              lambda r: accepted(r, 105, SUCCESS)),
        106: (record(call(106, NFS_PROG, 3, 1, b"\0")), lambda r: accepted(r, 106, GARBAGE_ARGS)),
        107: (record(call(107, NFS_PROG, 3, 0, cred=auth(6))),
              lambda r: isinstance(r, dict) and r["stat"] == MSG_DENIED),
    }
    if mport == port:
        calls[108] = (record(call(108, MOUNT_PROG, 3, 0)), lambda r: accepted(r, 108, SUCCESS))
    s = connect(port)
    s.sendall(b"".join(c[0] for c in calls.values()))
    got, bad = {}, []
    try:
        for _ in calls:
            r = parse_reply(read_record(s))
            got[r["xid"]] = r
    except (OSError, EOFError) as e:
        bad.append("after %d replies: %s" % (len(got), e))
    for xid, (_, good) in calls.items():
        if xid not in got:
            bad.append("no reply to %d" % xid)
        elif not good(got[xid]):
            bad.append("%d: %s" % (xid, describe(got[xid])))
    check(not bad and len(got) == len(calls),
          "%d calls pipelined in one write (one in three fragments): each answered as its "
          "own xid asks (%s)" % (len(calls), "; ".join(bad) or "ok"))
    # The same connection, one byte at a time.
    msg = record(call(120, NFS_PROG, 3, 0))
    try:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(msg)):
            s.sendall(msg[i:i + 1])
            time.sleep(0.002)
        good = accepted(parse_reply(read_record(s)), 120, SUCCESS)
    except (OSError, EOFError):
        good = False
    check(good, "a call sent one byte at a time is answered")
    s.close()

    try:
        good = null_on(early, 130)
    except (OSError, EOFError):
        good = False
    check(good, "the connection opened first is still served after all of it")
    early.close()

    # Clients that hang up (closing, or with a reset) with thousands of
    # replies owed: whatever the server's sends then meet (EPIPE,
    # ECONNRESET) ends that connection only.  (Its sends use MSG_NOSIGNAL;
    # this does not always make a send hit a closed socket, so it is a
    # smoke test of that path, not a proof.)
    for round_ in range(6):
        s = connect(port)
        s.sendall(b"".join(record(call(1000 + i, NFS_PROG, 3, 0)) for i in range(4000)))
        if round_ % 2:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    time.sleep(0.5)
    still_serving(port, "clients reset the connection while replies were being sent")


def on_port(port, src_port, msg):
    """Send one call from src_port (None: any); its reply, or a string."""
    try:
        s = connect(port, src_port)
    except OSError as e:
        return "connect: %s" % e
    try:
        s.sendall(record(msg))
        return parse_reply(read_record(s))
    except (OSError, EOFError) as e:
        return "no reply: %s" % e
    finally:
        s.close()


def first_u32(r):
    """The status of an accepted, successful reply; None otherwise."""
    if isinstance(r, dict) and r["stat"] == MSG_ACCEPTED and r["accept"] == SUCCESS:
        return struct.unpack_from(">I", r["results"])[0]
    return None


def reserved(port, msg):
    """Send msg from the first free reserved port; (reply, port)."""
    for src in range(1023, 600, -1):
        r = on_port(port, src, msg)
        if isinstance(r, str) and r.startswith("connect") and "in use" in r:
            continue
        return r, src
    return "no free reserved port", 0


def run_secure(port, secure, insecure, mport):
    mnt = call(200, MOUNT_PROG, 3, 1, opaque(secure.encode()))
    r = on_port(mport, None, mnt)
    check(first_u32(r) not in (None, 0) or (isinstance(r, dict) and r["stat"] == MSG_DENIED),
          "MNT %s (secure) from a port >= 1024 is refused (%s, status %s)" %
          (secure, describe(r), first_u32(r)))
    r, src = reserved(mport, mnt)
    if not check(first_u32(r) == 0, "MNT %s (secure) from reserved port %d works (%s, status %s)"
                 % (secure, src, describe(r), first_u32(r))):
        return
    n = struct.unpack_from(">I", r["results"], 4)[0]
    fh = r["results"][8:8 + n]
    getattr_call = call(201, NFS_PROG, 3, 1, opaque(fh))
    r = on_port(port, None, getattr_call)
    check(first_u32(r) not in (None, 0) or (isinstance(r, dict) and r["stat"] == MSG_DENIED),
          "GETATTR with the secure export's handle from a port >= 1024 is refused "
          "(%s, status %s)" % (describe(r), first_u32(r)))
    r, src = reserved(port, getattr_call)
    check(first_u32(r) == 0, "GETATTR with it from reserved port %d works (%s, status %s)" %
          (src, describe(r), first_u32(r)))
    r = on_port(mport, None, call(202, MOUNT_PROG, 3, 1, opaque(insecure.encode())))
    check(first_u32(r) == 0, "MNT %s (insecure) from a port >= 1024 works (%s, status %s)" %
          (insecure, describe(r), first_u32(r)))


def main(argv):
    if len(argv) in (5, 6) and argv[1] == "--secure":
        port = int(argv[2])
        run_secure(port, argv[3], argv[4], int(argv[5]) if len(argv) == 6 else port)
    elif len(argv) in (2, 3):
        port = int(argv[1])
        run(port, int(argv[2]) if len(argv) == 3 else port)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print("%d passed, %d failed" % (passed, failed), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
