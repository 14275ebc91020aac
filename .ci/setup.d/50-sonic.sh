# Sonic ISO: the tools the ISO builder and its QEMU boot tests need, plus a
# Debian kernel unpacked (not installed) into a cache directory that the tests
# find at /var/cache/udos-test/kernel (or $UDOS_TEST_KERNEL).
apt-get install -y -qq qemu-system-x86 ovmf isolinux syslinux-common \
  grub-efi-amd64-bin grub-pc-bin grub-common mtools busybox-static cpio xorriso >/dev/null

sonic_kernel_dir=/var/cache/udos-test/kernel
if [ ! -s "$sonic_kernel_dir/vmlinuz" ]; then
  # linux-image-amd64 depends on the current linux-image-6.1.0-N-amd64.
  sonic_pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
  [ -n "$sonic_pkg" ] || { echo "50-sonic: cannot find the current linux-image package" >&2; exit 1; }
  sonic_tmp=$(mktemp -d)
  (cd "$sonic_tmp" && apt-get download -qq "$sonic_pkg" && dpkg -x ./*.deb root)
  rm -rf "$sonic_kernel_dir" && mkdir -p "$sonic_kernel_dir"
  sonic_ver=${sonic_pkg#linux-image-}
  cp "$sonic_tmp/root/boot/vmlinuz-$sonic_ver" "$sonic_kernel_dir/vmlinuz"
  # Drivers the image loads at boot (disk controllers, USB storage, NICs);
  # the tests pass this tree to the initramfs builder.
  mkdir -p "$sonic_kernel_dir/lib"
  # Debian 12 ships lib/modules; merged-/usr packages ship usr/lib/modules.
  for d in lib usr/lib; do
    if [ -d "$sonic_tmp/root/$d/modules" ]; then cp -a "$sonic_tmp/root/$d/modules" "$sonic_kernel_dir/lib/"; break; fi
  done
  echo "$sonic_ver" > "$sonic_kernel_dir/version"
  rm -rf "$sonic_tmp"
fi
export UDOS_TEST_KERNEL="$sonic_kernel_dir/vmlinuz"

# The arm64 image (UEFI only): GRUB's arm64-efi modules, QEMU's aarch64
# system emulator with the AAVMF firmware, and the arm64 kernel, modules
# and static busybox, unpacked (not installed) from Debian's arm64 packages
# into /var/cache/udos-test/kernel-arm64 (or $UDOS_TEST_KERNEL_ARM64).
apt-get install -y -qq qemu-system-arm qemu-efi-aarch64 >/dev/null
# Ubuntu builds grub-efi-arm64-bin for amd64 too; Debian only for arm64, so
# there its modules (architecture-independent data for grub-mkimage) are
# unpacked from the arm64 package to the path the builder looks at.
sonic_add_arm64() {
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    dpkg --add-architecture arm64
    apt-get update -qq >/dev/null
  fi
}
if [ ! -e /usr/lib/grub/arm64-efi/linux.mod ]; then
  if apt-cache show grub-efi-arm64-bin >/dev/null 2>&1 && apt-get install -y -qq grub-efi-arm64-bin >/dev/null 2>&1; then
    :
  else
    sonic_add_arm64
    sonic_tmp=$(mktemp -d)
    (cd "$sonic_tmp" && apt-get download -qq grub-efi-arm64-bin:arm64 && dpkg -x ./*.deb root)
    [ -e "$sonic_tmp/root/usr/lib/grub/arm64-efi/linux.mod" ] || { echo "50-sonic: grub-efi-arm64-bin has no arm64-efi modules" >&2; exit 1; }
    mkdir -p /usr/lib/grub && cp -a "$sonic_tmp/root/usr/lib/grub/arm64-efi" /usr/lib/grub/
    rm -rf "$sonic_tmp"
  fi
fi
sonic_arm64_dir=/var/cache/udos-test/kernel-arm64
if [ ! -s "$sonic_arm64_dir/vmlinuz" ] || [ ! -x "$sonic_arm64_dir/busybox" ]; then
  sonic_add_arm64
  sonic_pkg=$(apt-cache depends linux-image-arm64:arm64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
  sonic_pkg=${sonic_pkg%:arm64}
  [ -n "$sonic_pkg" ] || { echo "50-sonic: cannot find the current arm64 linux-image package" >&2; exit 1; }
  sonic_tmp=$(mktemp -d)
  (cd "$sonic_tmp" && apt-get download -qq "$sonic_pkg:arm64" busybox-static:arm64 &&
    for deb in ./*.deb; do dpkg -x "$deb" root; done)
  rm -rf "$sonic_arm64_dir" && mkdir -p "$sonic_arm64_dir/lib"
  sonic_ver=${sonic_pkg#linux-image-}
  # Debian's arm64 vmlinuz is a gzip-compressed Image; the EFI stub that
  # GRUB, iPXE and the firmware start needs it uncompressed on arm64.
  if gzip -t "$sonic_tmp/root/boot/vmlinuz-$sonic_ver" 2>/dev/null; then
    gzip -dc "$sonic_tmp/root/boot/vmlinuz-$sonic_ver" > "$sonic_arm64_dir/vmlinuz"
  else
    cp "$sonic_tmp/root/boot/vmlinuz-$sonic_ver" "$sonic_arm64_dir/vmlinuz"
  fi
  for d in lib usr/lib; do
    if [ -d "$sonic_tmp/root/$d/modules" ]; then cp -a "$sonic_tmp/root/$d/modules" "$sonic_arm64_dir/lib/"; break; fi
  done
  for b in bin/busybox usr/bin/busybox; do
    if [ -x "$sonic_tmp/root/$b" ]; then cp "$sonic_tmp/root/$b" "$sonic_arm64_dir/busybox"; break; fi
  done
  [ -x "$sonic_arm64_dir/busybox" ] || { echo "50-sonic: busybox-static:arm64 has no busybox binary" >&2; exit 1; }
  echo "$sonic_ver" > "$sonic_arm64_dir/version"
  rm -rf "$sonic_tmp"
fi
export UDOS_TEST_KERNEL_ARM64="$sonic_arm64_dir/vmlinuz"

# The sonic-iso action's test runs action.yml under act.
if ! command -v act >/dev/null 2>&1; then
  go install github.com/nektos/act@v0.2.89
fi
