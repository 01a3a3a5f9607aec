"""A python3-libtorrent client for the gale serve tests: seeds TORRENT from
SAVE_DIR, or downloads it there first, on loopback only. Run by the Go
tests with /usr/bin/python3.

usage: client.py TORRENT SAVE_DIR LISTEN_IP [UP_LIMIT [DOWN_LIMIT]]

UP_LIMIT and DOWN_LIMIT are per-torrent rates in bytes per second (0: no
limit); per-torrent limits apply to loopback peers too, unlike the
session's global ones.

Prints one line per event on stdout: "listening PORT", "announce EVENT"
(0 none, 1 completed, 2 started, 3 stopped), "tracker-reply N",
"tracker-error MSG", "seeding", "paused", and once a second
"status PROGRESS UPLOADED DOWNLOADED PEERS" (payload bytes). Commands on
stdin: "reannounce" announces at once (ignoring the tracker's min
interval); "stop" pauses the torrent, which sends a "stopped" announce;
"resume" resumes it. Runs until stdin is closed or it is killed. DHT, LSD,
UPnP, NAT-PMP and uTP are off; the torrent is private, so PEX is off too.
"""
import sys
import threading
import time

import libtorrent as lt


def main():
    torrent, save_dir, ip = sys.argv[1:4]
    up = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    down = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    host = "[%s]" % ip if ":" in ip else ip
    s = lt.session({
        "listen_interfaces": "%s:0" % host,
        "outgoing_interfaces": ip,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_outgoing_utp": False,
        "enable_incoming_utp": False,
        "allow_multiple_connections_per_ip": True,
        "announce_to_all_trackers": True,
        "announce_to_all_tiers": True,
        "min_announce_interval": 1,
        # Retry a peer soon after a failed connection (default 60 s).
        "min_reconnect_time": 1,
        "peer_connect_timeout": 3,
        "tracker_backoff": 10,
        "stop_tracker_timeout": 5,
        # Tracker paths on loopback other than /announce are refused otherwise
        # (personal URLs are /<key>/announce).
        "ssrf_mitigation": False,
        "user_agent": "gale-servetest",
        "alert_mask": lt.alert.category_t.status_notification
        | lt.alert.category_t.tracker_notification
        | lt.alert.category_t.error_notification,
    })
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(torrent)
    atp.save_path = save_dir
    h = s.add_torrent(atp)
    if up:
        h.set_upload_limit(up)
    if down:
        h.set_download_limit(down)

    done = threading.Event()
    commands = []
    lock = threading.Lock()

    def watch_stdin():
        for line in sys.stdin:
            with lock:
                commands.append(line.strip())
        done.set()

    threading.Thread(target=watch_stdin, daemon=True).start()

    said_port = said_seeding = False
    last_status = 0.0
    while not done.is_set():
        if not said_port and s.listen_port() > 0:
            print("listening", s.listen_port(), flush=True)
            said_port = True
        with lock:
            todo, commands[:] = commands[:], []
        for c in todo:
            if c == "reannounce":
                h.force_reannounce(0, -1, lt.reannounce_flags_t.ignore_min_interval)
            elif c == "stop":
                h.unset_flags(lt.torrent_flags.auto_managed)
                h.pause()
            elif c == "resume":
                h.resume()
        st = h.status()
        if not said_seeding and st.is_seeding:
            print("seeding", flush=True)
            said_seeding = True
        now = time.monotonic()
        if now - last_status >= 1:
            last_status = now
            print("status %.3f %d %d %d" % (st.progress, st.total_payload_upload,
                                           st.total_payload_download, st.num_peers), flush=True)
        for a in s.pop_alerts():
            if isinstance(a, lt.tracker_announce_alert):
                print("announce", int(a.event), flush=True)
            elif isinstance(a, lt.tracker_reply_alert):
                print("tracker-reply", a.num_peers, flush=True)
            elif isinstance(a, lt.tracker_error_alert):
                reason = a.failure_reason() or a.error_message() or a.error.message()
                print("tracker-error", reason.replace("\n", " "), flush=True)
            elif isinstance(a, lt.torrent_paused_alert):
                print("paused", flush=True)
            elif isinstance(a, lt.listen_failed_alert):
                print("listen-failed", a.message(), flush=True)
        time.sleep(0.05)


if __name__ == "__main__":
    main()
