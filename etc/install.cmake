# etc/install.cmake: the part of `cmake --install` that must know the prefix given at install
# time (--prefix, which may differ from the configured CMAKE_INSTALL_PREFIX), included by the
# install(CODE) in CMakeLists.txt with these set:
#   DOTD_SRC, DOTD_BIN    the source and build directories
#   DOTD_SBINDIR, DOTD_SYSCONFDIR, DOTD_DOCDIR, DOTD_MANDIR, DOTD_UNITDIR
#                         CMAKE_INSTALL_SBINDIR and the rest as configured, relative or absolute
#
# The unit and the man pages name installed paths: they are written with etc/dotd.service's and
# the pages' packaged paths (/usr/local/sbin/dotd, /etc/dotd/, /usr/local/share/doc/dotd/)
# replaced by this installation's, every other line as it is (ExecReload= and all). The
# configuration is installed only where there is none yet: it is the administrator's file.

# A directory as GNUInstallDirs makes it absolute, from the install-time prefix: SYSCONFDIR of
# /usr is /etc, of /opt/NAME /etc/opt/NAME. The others are under the prefix, as install()
# puts them.
function(dotd_install_dir out kind rel)
	string(REGEX REPLACE "(.)/+$" "\\1" prefix "${CMAKE_INSTALL_PREFIX}")
	if(IS_ABSOLUTE "${rel}")
		set(abs "${rel}")
	elseif(kind STREQUAL "SYSCONFDIR" AND prefix MATCHES "^/(usr)?$")
		set(abs "/${rel}")
	elseif(kind STREQUAL "SYSCONFDIR" AND prefix MATCHES "^/opt/"
			AND NOT prefix MATCHES "^/opt/homebrew/")
		set(abs "/${rel}${prefix}")
	elseif(prefix STREQUAL "/")
		set(abs "/${rel}")
	else()
		set(abs "${prefix}/${rel}")
	endif()
	set(${out} "${abs}" PARENT_SCOPE)
endfunction()

dotd_install_dir(sbindir SBINDIR "${DOTD_SBINDIR}")
dotd_install_dir(sysconfdir SYSCONFDIR "${DOTD_SYSCONFDIR}")
dotd_install_dir(docdir DOCDIR "${DOTD_DOCDIR}")
dotd_install_dir(mandir MANDIR "${DOTD_MANDIR}")
dotd_install_dir(unitdir UNITDIR "${DOTD_UNITDIR}")
set(staging "${DOTD_BIN}/install-staging")

# Install @src as @dest_dir/@name with the packaged paths replaced. @must_have: a text the source
# must hold, so that a changed source fails here rather than installing stale paths.
function(dotd_install_fitted src dest_dir name must_have)
	file(READ "${src}" text)
	string(FIND "${text}" "${must_have}" at)
	if(at EQUAL -1)
		message(FATAL_ERROR "${src} has no '${must_have}': update etc/install.cmake")
	endif()
	string(REPLACE "/usr/local/sbin/" "${sbindir}/" text "${text}")
	string(REPLACE "/usr/local/share/doc/dotd/" "${docdir}/" text "${text}")
	string(REPLACE "/etc/dotd/" "${sysconfdir}/dotd/" text "${text}")
	file(WRITE "${staging}/${name}" "${text}")
	file(INSTALL DESTINATION "${dest_dir}" TYPE FILE
		PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
		FILES "${staging}/${name}")
	# file(INSTALL) lists the file for install_manifest.txt in this scope.
	set(CMAKE_INSTALL_MANIFEST_FILES "${CMAKE_INSTALL_MANIFEST_FILES}" PARENT_SCOPE)
endfunction()

dotd_install_fitted("${DOTD_SRC}/etc/dotd.service" "${unitdir}" dotd.service
	"\nExecStart=/usr/local/sbin/dotd -C /etc/dotd/dotd.yml\n")
dotd_install_fitted("${DOTD_SRC}/man/dotd.8" "${mandir}/man8" dotd.8 "")
dotd_install_fitted("${DOTD_SRC}/man/dotd-ctl.8" "${mandir}/man8" dotd-ctl.8 "")
dotd_install_fitted("${DOTD_SRC}/man/dotd.yml.5" "${mandir}/man5" dotd.yml.5 "")

set(config "${sysconfdir}/dotd/dotd.yml")
if(EXISTS "$ENV{DESTDIR}${config}" OR IS_SYMLINK "$ENV{DESTDIR}${config}")
	message(STATUS "keeping existing $ENV{DESTDIR}${config} (never overwritten; the shipped "
		"file is ${DOTD_SRC}/etc/dotd.yml)")
else()
	file(INSTALL DESTINATION "${sysconfdir}/dotd" TYPE FILE
		PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
		FILES "${DOTD_SRC}/etc/dotd.yml")
endif()
