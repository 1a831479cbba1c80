# The Debian package (scripts/package.sh: cpack -G DEB): xbridge_VERSION_amd64.deb with
# what `cmake --install` installs, stripped, its Depends computed by dpkg-shlibdeps from
# the libraries the binary links (libbpf1, libnl-3-200, libfmt9, libsystemd0, ...).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME xbridge)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT ${XB_PACKAGE_MAINTAINER})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "XDP learning bridge for hosts that run QEMU/KVM guests")
# The extended description, lines of at most 80 characters as lintian wants.
set(CPACK_PACKAGE_DESCRIPTION "\
xbridge switches Ethernet frames between a host's uplink and its guests'
taps in XDP and TC programs that share a BPF forwarding database: learning,
ageing, flooding, static entries and port flags as the kernel bridge has
them, per-port counters, Prometheus metrics and a per-frame trace. One
command, xbridge up eth0 tap0 tap1, replaces the kernel bridge set-up; the
unit xbridge@.service runs a bridge at boot from /etc/xbridge/NAME.toml, and
a libvirt hook puts the guests' taps on it.")
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS OFF)
# What the package puts in /etc is the admin's to edit: the libvirt hook.
file(WRITE ${PROJECT_BINARY_DIR}/conffiles "${XB_LIBVIRT_HOOK_DIR}/xbridge\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${PROJECT_BINARY_DIR}/conffiles)
include(CPack)
