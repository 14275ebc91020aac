# Sonic bridge: OpenSSH's client (interop with our SSH server), iproute2 for
# the network-namespace tests, avahi for mDNS interop (the tests start their
# own avahi-daemon inside a namespace; the system one is not used), dnsmasq
# for DHCP to a QEMU guest, hyperfine/rsync for the benchmarks.
apt-get install -y -qq --no-install-recommends openssh-client iproute2 dbus avahi-daemon avahi-utils \
  dnsmasq-base rsync hyperfine >/dev/null
