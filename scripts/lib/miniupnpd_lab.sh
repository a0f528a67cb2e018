# The miniupnpd namespace lab shared by interop-portmap.sh and capture-miniupnpd.sh:
#
#   [LAN] lan0 192.168.78.2,.3 --- gw-lan 192.168.78.1 [GW: miniupnpd] gw-wan 10.78.0.1
#                                                       --- wan0 10.78.0.10,.11 [WAN]
#
# Source it after lib/interop.sh, with NATSIM, TMP, PIDS=() and NETNS=() set and LAN, GW,
# WAN naming the three namespaces. lab_up builds them (the caller deletes NETNS on exit);
# miniupnpd_lab_start runs `natsim serve stun` in WAN and miniupnpd in GW (their PIDs go
# in PIDS) and waits until miniupnpd listens.

lab_up() {
  netns_add "$LAN" && netns_add "$GW" && netns_add "$WAN" || return 1
  ip link add lan0 netns "$LAN" type veth peer name gw-lan netns "$GW"
  ip link add gw-wan netns "$GW" type veth peer name wan0 netns "$WAN"
  ip -n "$LAN" addr add 192.168.78.2/24 dev lan0
  ip -n "$GW" addr add 192.168.78.1/24 dev gw-lan
  ip -n "$GW" addr add 10.78.0.1/24 dev gw-wan
  ip -n "$WAN" addr add 10.78.0.10/24 dev wan0
  ip -n "$WAN" addr add 10.78.0.11/24 dev wan0
  ip -n "$LAN" addr add 192.168.78.3/24 dev lan0  # a second LAN host for (c)
  ip -n "$LAN" link set lan0 up
  ip -n "$GW" link set gw-lan up
  ip -n "$GW" link set gw-wan up
  ip -n "$WAN" link set wan0 up
  ip -n "$LAN" route add default via 192.168.78.1
  ip netns exec "$GW" sysctl -qw net.ipv4.ip_forward=1
  # miniupnpd-nftables 2.3.1 adds its rules to these chains of table inet filter (and
  # never creates them): miniupnpd (filter), prerouting_miniupnpd (DNAT) and
  # postrouting_miniupnpd (SNAT).
  ip netns exec "$GW" nft -f - <<'EOF'
table inet filter {
  chain forward {
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    iifname "gw-lan" oifname "gw-wan" accept
    jump miniupnpd
  }
  chain miniupnpd {
  }
  chain prerouting {
    type nat hook prerouting priority -100; policy accept;
    jump prerouting_miniupnpd
  }
  chain postrouting {
    type nat hook postrouting priority 100; policy accept;
    jump postrouting_miniupnpd
    oifname "gw-wan" masquerade
  }
  chain prerouting_miniupnpd {
  }
  chain postrouting_miniupnpd {
  }
}
EOF
}

miniupnpd_lab_start() {
  ip netns exec "$WAN" timeout 300 "$NATSIM" serve stun --listen 10.78.0.10:3478 \
    --alternate 10.78.0.11:3479 >"$TMP/stun.out" 2>&1 &
  PIDS+=("$!")
  for _ in $(seq 1 50); do
    [ "$(grep -c '^listening on' "$TMP/stun.out")" = 4 ] && break
    sleep 0.1
  done
  cat >"$TMP/miniupnpd.conf" <<EOF
ext_ifname=gw-wan
listening_ip=gw-lan
http_port=5000
enable_natpmp=yes
enable_upnp=yes
ext_perform_stun=yes
ext_stun_host=10.78.0.10
ext_stun_port=3478
ipv6_disable=yes
secure_mode=yes
system_uptime=no
lease_file=$TMP/upnp.leases
uuid=3d3cec3a-8cf0-11e0-98ee-001a6bd2d07c
min_lifetime=120
max_lifetime=86400
allow 1024-65535 192.168.78.0/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
EOF
  ip netns exec "$GW" miniupnpd -d -f "$TMP/miniupnpd.conf" -P "$TMP/miniupnpd.pid" \
    >"$TMP/miniupnpd.log" 2>&1 &
  PIDS+=("$!")
  for _ in $(seq 1 100); do
    grep -q 'Listening for NAT-PMP/PCP traffic' "$TMP/miniupnpd.log" && break
    sleep 0.1
  done
}
