# Sonic bridge: OpenSSH's client (interop with our SSH server), iproute2 for
# the network-namespace tests, avahi for mDNS interop (the tests start their
# own avahi-daemon, with a D-Bus of its own, inside a namespace; the system
# one is not used), rsync and OpenSSH's server (run by the benchmark in a
# namespace) for the sync benchmarks, dnsmasq (the binary only, no service)
# for the DHCP of the Sonic-in-QEMU bridge test.
apt-get install -y -qq --no-install-recommends openssh-client openssh-server iproute2 dbus avahi-daemon avahi-utils \
  rsync dnsmasq-base >/dev/null
