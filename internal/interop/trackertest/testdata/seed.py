"""Seed one torrent with libtorrent, on loopback only, for the tracker
interop tests; when SAVE_DIR lacks the data it downloads it first (used
where the other clients cannot take part). Run by the Go test with
/usr/bin/python3.

usage: seed.py TORRENT SAVE_DIR LISTEN_IP

Prints one line per event on stdout: "listening PORT", "tracker-reply N"
(N peers), "tracker-error MSG", "seeding". A line "reannounce" on stdin
makes it announce again at once (ignoring the tracker's min interval), so
that it learns of peers that joined later and connects to them: clients
such as Transmission never dial loopback addresses themselves. Runs until
stdin is closed or it is killed. DHT, LSD, UPnP and NAT-PMP are off; the torrent is private,
so PEX is off too.
"""
import sys
import threading
import time

import libtorrent as lt


def main():
    torrent, save_dir, ip = sys.argv[1:4]
    host = "[%s]" % ip if ":" in ip else ip
    s = lt.session({
        "listen_interfaces": "%s:0" % host,
        "outgoing_interfaces": ip,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "allow_multiple_connections_per_ip": True,
        "announce_to_all_trackers": True,
        "announce_to_all_tiers": True,
        "user_agent": "gale-interop-seeder",
        "alert_mask": lt.alert.category_t.status_notification
        | lt.alert.category_t.tracker_notification
        | lt.alert.category_t.error_notification,
    })
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(torrent)
    atp.save_path = save_dir
    h = s.add_torrent(atp)

    done = threading.Event()
    reannounce = threading.Event()

    def watch_stdin():
        for line in sys.stdin:
            if line.strip() == "reannounce":
                reannounce.set()
        done.set()

    threading.Thread(target=watch_stdin, daemon=True).start()

    said_port = said_seeding = False
    while not done.is_set():
        if not said_port and s.listen_port() > 0:
            print("listening", s.listen_port(), flush=True)
            said_port = True
        if reannounce.is_set():
            reannounce.clear()
            h.force_reannounce(0, -1, lt.reannounce_flags_t.ignore_min_interval)
        st = h.status()
        if not said_seeding and st.is_seeding:
            print("seeding", flush=True)
            said_seeding = True
        for a in s.pop_alerts():
            if isinstance(a, lt.tracker_reply_alert):
                print("tracker-reply", a.num_peers, flush=True)
            elif isinstance(a, lt.tracker_error_alert):
                print("tracker-error", a.message().replace("\n", " "), flush=True)
            elif isinstance(a, lt.listen_failed_alert):
                print("listen-failed", a.message(), flush=True)
        time.sleep(0.1)


if __name__ == "__main__":
    main()
