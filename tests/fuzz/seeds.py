#!/usr/bin/env python3
# seeds.py - write the hand-made seed corpus of the fuzz targets into
# tests/fuzz/corpus/<target>/ for every target (run it again after changing
# it; the files are checked in so that a fuzz run needs no Python).
#
# fuzz_pdu seeds are whole initiator byte streams: a login to full feature
# phase, then commands (reads, writes with immediate data and with R2T and
# Data-Out, NOP, SendTargets, task management, logout); one session runs
# with CRC32C header and data digests.  fuzz_text seeds
# are records of [BHS byte 1][length, 2 bytes BE][login text].  fuzz_nfs
# seeds are NFS and MOUNT calls (format below).  fuzz_rpc
# seeds are [chunk size/host/limit byte][RPC record-marked stream]: every
# portmapper procedure, AUTH_SYS, a record in several fragments.
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
TARGET = b"iqn.2026-11.dev.slate:fuzz"
INITIATOR = b"iqn.2026-11.dev.slate:fuzzer"


def crc32c(data):
    crc = 0xffffffff
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82f63b78 if crc & 1 else 0)
    return crc ^ 0xffffffff


def with_digests(pdu):
    """A PDU (BHS, no AHS, padded data) with its header and data digests."""
    head, data = pdu[:48], pdu[48:]
    out = head + struct.pack("<I", crc32c(head)) + data
    return out + struct.pack("<I", crc32c(data)) if data else out


def text(**keys):
    return b"".join(k.encode() + b"=" + (v if isinstance(v, bytes) else str(v).encode())
                    + b"\0" for k, v in keys.items())


def pad(data):
    return data + b"\0" * (-len(data) % 4)


def bhs(op, flags, data=b"", itt=0, f20=0, cmd_sn=0, tail=b""):
    """A BHS (LUN 0, ExpStatSN 0) with ITT, the field at 20, CmdSN (or the
    field at 24), bytes 32.. (CDB, DataSN, offset), then the padded data."""
    h = bytearray(48)
    h[0], h[1] = op, flags
    struct.pack_into(">I", h, 4, len(data))
    struct.pack_into(">III", h, 16, itt, f20, cmd_sn)
    h[32:32 + len(tail)] = tail
    return bytes(h) + pad(data)


def login(flags, keys, itt=0, cmd_sn=1):
    h = bytearray(bhs(0x43, flags, keys, itt=itt, cmd_sn=cmd_sn))
    h[8] = 0x40  # ISID
    return bytes(h)


NORMAL = text(InitiatorName=INITIATOR, SessionType="Normal", TargetName=TARGET,
              HeaderDigest="None", DataDigest="None", MaxRecvDataSegmentLength=8192,
              MaxBurstLength=262144, FirstBurstLength=65536, InitialR2T="Yes",
              ImmediateData="Yes", MaxOutstandingR2T=1, ErrorRecoveryLevel=0)
DISCOVERY = text(InitiatorName=INITIATOR, SessionType="Discovery",
                 MaxRecvDataSegmentLength=8192)


def scsi(itt, cmd_sn, cdb, edtl, flags, data=b""):
    return bhs(0x01, flags, data, itt=itt, f20=edtl, cmd_sn=cmd_sn, tail=cdb)


def cdb10(op, lba, blocks):
    return struct.pack(">BBIBHB", op, 0, lba, 0, blocks, 0)


def data_out(itt, ttt, data_sn, offset, data, final=True):
    return bhs(0x05, 0x80 if final else 0, data, itt=itt, f20=ttt,
               tail=struct.pack(">IIII", 0, data_sn, offset, 0))


session = login(0x87, NORMAL)  # T, CSG 1 -> NSG 3
session += scsi(1, 1, bytes([0x12, 0, 0, 0, 96, 0]), 96, 0xc1)            # INQUIRY
session += scsi(2, 2, bytes([0x25] + [0] * 9), 8, 0xc1)                    # READ CAPACITY 10
session += scsi(3, 3, cdb10(0x2a, 0, 8), 4096, 0xa1, b"\xa5" * 4096)       # WRITE 10, immediate
session += scsi(4, 4, cdb10(0x28, 0, 8), 4096, 0xc1)                       # READ 10
session += scsi(5, 5, cdb10(0x2a, 64, 16), 8192, 0xa1, b"\x5a" * 4096)     # WRITE 10 + R2T
session += data_out(5, 0, 0, 4096, b"\x3c" * 4096)
session += bhs(0x00, 0x80, b"ping", itt=6, f20=0xffffffff, cmd_sn=6)        # NOP-Out
session += bhs(0x04, 0x80, text(SendTargets="All"), itt=7, f20=0xffffffff, cmd_sn=7)
session += bhs(0x02, 0x81, itt=8, f20=5, cmd_sn=8)                         # ABORT TASK
session += bhs(0x06, 0x80, itt=9, cmd_sn=9)                                # Logout

discovery = login(0x87, DISCOVERY)
discovery += bhs(0x04, 0x80, text(SendTargets="All"), itt=1, f20=0xffffffff, cmd_sn=1)
discovery += bhs(0x06, 0x80, itt=2, cmd_sn=2)

staged = login(0x81, text(InitiatorName=INITIATOR, TargetName=TARGET, AuthMethod="None"))
staged += login(0x87, text(MaxRecvDataSegmentLength=262144, InitialR2T="No"), itt=1)
staged += scsi(1, 1, cdb10(0x2a, 8, 8), 4096, 0xa1, b"\x11" * 2048)        # unsolicited Data-Out
staged += data_out(1, 0xffffffff, 0, 2048, b"\x22" * 2048)
staged += scsi(2, 2, bytes([0x88, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 16, 0, 0]), 8192, 0xc1)
staged += scsi(3, 3, bytes([0x35] + [0] * 9), 0, 0x81)                      # SYNCHRONIZE CACHE

digests = login(0x87, text(InitiatorName=INITIATOR, TargetName=TARGET,
                           HeaderDigest="CRC32C", DataDigest="CRC32C,None"))
for pdu in (scsi(1, 1, cdb10(0x2a, 16, 8), 4096, 0xa1, b"\x77" * 4096),
            scsi(2, 2, cdb10(0x28, 16, 8), 4096, 0xc1),
            bhs(0x00, 0x80, b"digest", itt=3, f20=0xffffffff, cmd_sn=3),
            bhs(0x06, 0x80, itt=4, cmd_sn=4)):
    digests += with_digests(pdu)

pdu_seeds = {"session": session, "discovery": discovery, "staged": staged,
             "digests": digests}


def record(flags, keys):
    return bytes([flags]) + struct.pack(">H", len(keys)) + keys


text_seeds = {
    "normal": record(0x87, NORMAL),
    "discovery": record(0x87, DISCOVERY) + record(0x80, text(SendTargets="All")),
    "staged": record(0x81, text(InitiatorName=INITIATOR, TargetName=TARGET,
                                AuthMethod="CHAP,None"))
    + record(0x87, text(HeaderDigest="CRC32C,None", DefaultTime2Wait=5, IFMarker="Yes",
                        X_unknown="1")),
}


def xdr_string(b):
    return struct.pack(">I", len(b)) + pad(b)


def rpc_call(xid, vers, proc, args=b"", cred=b"\0" * 8):
    """A portmapper call (AUTH_NONE verifier), as one record."""
    return struct.pack(">6I", xid, 0, 2, 100000, vers, proc) + cred + b"\0" * 8 + args


def records(*calls, split=0):
    """Record-marked stream; with split, each record in fragments of split bytes."""
    out = b""
    for call in calls:
        step = split or len(call)
        for at in range(0, len(call), step):
            last = 0x80000000 if at + step >= len(call) else 0
            out += struct.pack(">I", last | len(call[at:at + step])) + call[at:at + step]
    return out


AUTH_SYS = struct.pack(">I", 1) + xdr_string(
    struct.pack(">I", 7) + xdr_string(b"client") + struct.pack(">5I", 0, 0, 2, 0, 10))
rpcb_nfs = struct.pack(">II", 100003, 3) + xdr_string(b"tcp") + xdr_string(b"") + xdr_string(b"")
rpcb_nfs6 = struct.pack(">II", 100003, 3) + xdr_string(b"tcp6") + xdr_string(b"0") * 2
pmap_nfs = struct.pack(">4I", 100003, 3, 6, 0)

rpc_seeds = {
    "pmap-v2": bytes([0x3f]) + records(
        rpc_call(1, 2, 0), rpc_call(2, 2, 3, pmap_nfs), rpc_call(3, 2, 4),
        rpc_call(4, 2, 1, pmap_nfs), rpc_call(5, 2, 2, pmap_nfs, cred=AUTH_SYS)),
    "rpcbind-v3-v4": bytes([0x07]) + records(
        rpc_call(6, 3, 3, rpcb_nfs), rpc_call(7, 4, 9, rpcb_nfs), rpc_call(8, 4, 4),
        rpc_call(9, 3, 6), rpc_call(10, 4, 1, rpcb_nfs), rpc_call(11, 5, 0)),
    "ipv6-fragments": bytes([0x42]) + records(
        rpc_call(12, 4, 3, rpcb_nfs6), rpc_call(13, 3, 4), split=12),
    "small-limit": bytes([0x80]) + records(rpc_call(14, 2, 0), rpc_call(15, 2, 4)),
}

# fuzz_nfs inputs are calls of [selector][procedure][args length, 2 bytes
# BE][args]; selector bit 0 = MOUNT, 0x80 puts /demo's handle first, 0x40
# /demo/file's (see fuzz_nfs.c).
def nfs_call(selector, proc, args=b""):
    return bytes([selector, proc]) + struct.pack(">H", len(args)) + args


NO_SATTR = struct.pack(">6I", 0, 0, 0, 0, 0, 0)
nfs_seeds = {
    "mount": b"".join(nfs_call(1, p, a) for p, a in (
        (0, b""), (1, xdr_string(b"/demo")), (2, b""), (5, b""),
        (3, xdr_string(b"/demo")), (4, b""))),
    "lookup-getattr": nfs_call(0x80, 1) + nfs_call(0x80, 3, xdr_string(b"file"))
    + nfs_call(0x80, 3, xdr_string(b"..")) + nfs_call(0x80, 4, struct.pack(">I", 0x3f)),
    "create-write-read": nfs_call(0x80, 8, xdr_string(b"new") + struct.pack(">I", 0) + NO_SATTR)
    + nfs_call(0x40, 7, struct.pack(">QII", 100, 10, 0) + xdr_string(b"helloworld"))
    + nfs_call(0x40, 6, struct.pack(">QI", 0, 4096)) + nfs_call(0x40, 21, struct.pack(">QI", 0, 0)),
    "dirs": nfs_call(0x80, 9, xdr_string(b"sub") + struct.pack(">6I", 1, 0o700, 0, 0, 0, 0))
    + nfs_call(0x80, 16, struct.pack(">Q", 0) + b"\0" * 8 + struct.pack(">I", 4096))
    + nfs_call(0x80, 17, struct.pack(">Q", 0) + b"\0" * 8 + struct.pack(">II", 1024, 8192))
    + nfs_call(0x80, 13, xdr_string(b"sub"))
    + nfs_call(0x80, 10, xdr_string(b"ln") + NO_SATTR + xdr_string(b"target"))
    + nfs_call(0x80, 14, xdr_string(b"ln")),
    "fs": nfs_call(0x80, 18) + nfs_call(0x80, 19) + nfs_call(0x80, 20)
    + nfs_call(0x40, 2, struct.pack(">8I", 1, 0o600, 0, 0, 1, 0, 0, 0) + struct.pack(">Q", 5)
               + struct.pack(">3I", 0, 0, 0)),
}

# fuzz_sched inputs are [kind][rest]: kind % 3 = 0 a cron expression, 1 a
# TZif image (a real zone from tzdata), 2 a snapshot-name pattern.
with open("/usr/share/zoneinfo/Europe/Berlin", "rb") as zone:
    berlin = zone.read()
sched_seeds = {
    "cron-steps": b"\x00*/15 1-5,22 */2 jan-mar,dec mon-fri",
    "cron-dom-dow": b"\x03" + b"0 0 13 * fri",
    "cron-leap": b"\x06" + b"0 12 29 2 *",
    "tzif-berlin": b"\x01" + berlin,
    "name-fields": b"\x02" + b"daily-%Y-%m-%d_%H%M%S.%j.%a.%b",
}

# fuzz_api inputs are [kind][JSON body]: kind indexes mgmt/specs.c's table
# (0 name only, 1 rollback, 2 login, 3 user, 4 user update, 5 token,
# 6 volume, 7 resize, 8 copy, 9 target, 10 target update, 11 LUN, 12 portal,
# 13 discovery CHAP, 14 export, 15 export update, 16 file clone, 17 QoS
# policy, 18 policy update, 19 host shares, 20 QoS settings, 21 VM,
# 22 VM update, 23 schedule, 24 schedule update).
api_seeds = {
    "login": b"\x02" + b'{"user":"admin","password":"pw"}',
    "user": b"\x03" + b'{"name":"ops","password":"long-password","role":"read-only"}',
    "token": b"\x05" + b'{"name":"ci","role":"admin","expires_in":"P1DT12H"}',
    "volume": b"\x06" + b'{"name":"vm1","size_bytes":1073741824}',
    "rollback": b"\x01" + b'{"delete_newer":true}',
    "target": b"\x09" + b'{"iqn":"iqn.2026-12.dev.slate:t","acl":["iqn.a:b","iqn.c:d"],'
              b'"chap":{"user":"u","secret":"0123456789abcdef"},"mutual_chap":{"user":"","secret":""}}',
    "lun": b"\x0b" + b'{"lun":3,"volume":"vm1"}',
    "export": b"\x0e" + b'{"path":"/vms","clients":["10.0.0.0/8(rw,no_root_squash)","*(ro)"]}',
    "policy": b"\x11" + b'{"name":"gold","shares":2000,"reservation_iops":100,"limit_iops":5000}',
    "settings": b"\x14" + b'{"latency_threshold_us":3000,"period_ms":500}',
    "time": b"\x06" + b"2026-12-07T05:00:00.123Z",
    "vm": b"\x15" + b'{"name":"web","volumes":["a","b"],"files":["/vms/x.raw"],"qos_policy":"gold"}',
    "schedule": b"\x17" + b'{"name":"hourly","minute":"0","hour":"*/4","day_of_month":"1-15",'
                b'"month":"jan-jun","day_of_week":"mon-fri","timezone":"Europe/Berlin",'
                b'"target":{"kind":"vm","name":"web"},"retention":{"keep_last":24,"keep_for":"P7D"},'
                b'"name_pattern":"auto-%Y%m%d-%H%M","enabled":true,"catch_up":false}',
}

for target, seeds in (("fuzz_pdu", pdu_seeds), ("fuzz_text", text_seeds),
                      ("fuzz_rpc", rpc_seeds), ("fuzz_nfs", nfs_seeds),
                      ("fuzz_sched", sched_seeds), ("fuzz_api", api_seeds)):
    os.makedirs(os.path.join(HERE, "corpus", target), exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(HERE, "corpus", target, name), "wb") as f:
            f.write(data)
