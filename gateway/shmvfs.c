/*
 * shmvfs: the WAL index off flash.
 *
 * SQLite's WAL index (<db>-shm) is shared memory mapped from a file beside
 * the database.  Every commit writes into it, and the kernel writes its
 * dirty pages back about every 30 s: ~1.5 MB/h at 1 Hz, a third of what the
 * store wrote to flash (README "Durability and flash").  The index is
 * derived from the WAL and rebuilt from it when missing or stale, so it can
 * live in RAM: with a run directory (systemd's RuntimeDirectory=, tmpfs),
 * shmvfs_link makes <db>-shm a symbolic link to an index file there.  The
 * unix VFS opens <db>-shm with O_NOFOLLOW, so this VFS is "unix" with
 * shared-memory methods of its own that follow the link: every emgwd
 * process on the store (the daemon, --export beside it) finds the same
 * index through it.  Other SQLite programs (the sqlite3 shell) cannot open
 * the store while the link is there ("unable to open database file"), so
 * none can write to it with an index of its own.  A clean close of the last
 * connection removes the index and the link.
 *
 * The methods do what os_unix.c's do, at its lock bytes and with its
 * dead-man switch (the first user of an index no one holds starts it
 * afresh: SQLite then rebuilds it from the WAL), but with
 * open-file-description locks (F_OFD_SETLK): each connection has its own
 * descriptor and locks, and a regular <db>-shm is shared correctly with
 * other SQLite programs, as before.
 */
#define _GNU_SOURCE /* F_OFD_SETLK */
#include "gateway/shmvfs.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "gateway/log.h"

/* os_unix.c: one lock byte per slot from 120 ((22 + SQLITE_SHM_NLOCK) * 4),
 * then the dead-man switch. */
#define SHMVFS_LOCK_BASE 120
#define SHMVFS_DMS	 (SHMVFS_LOCK_BASE + SQLITE_SHM_NLOCK)
#define SHMVFS_NAME	 "emgw"

/* Kept after the unix VFS's own structure in every main database file. */
struct shmvfs_index {
	const char *db; /* the database's name: SQLite keeps it until xClose */
	int fd;		/* the index, or -1 */
	int nmap;	/* regions mapped */
	int region_size;
	void **map;
};

static sqlite3_vfs shmvfs_vfs;
static sqlite3_io_methods shmvfs_methods;
static const sqlite3_io_methods *shmvfs_unix_methods;
static int shmvfs_offset; /* of struct shmvfs_index in a file */
static char shmvfs_dir[PATH_MAX];

static struct shmvfs_index *shmvfs_of(sqlite3_file *f)
{
	return (struct shmvfs_index *)((char *)f + shmvfs_offset);
}

/* 0, or -1 with errno (EAGAIN: another connection holds it). */
static int shmvfs_lock(int fd, short type, off_t at, off_t len)
{
	struct flock l = {.l_type = type, .l_whence = SEEK_SET, .l_start = at, .l_len = len};

	return fcntl(fd, F_OFD_SETLK, &l);
}

/* Open the index (through the link, if any) and hold the dead-man switch
 * shared, after starting the index afresh when no one else holds it. */
static int shmvfs_open_index(struct shmvfs_index *x)
{
	struct flock l = {
	    .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = SHMVFS_DMS, .l_len = 1};
	char path[PATH_MAX];
	struct stat st;
	int fresh;

	if (snprintf(path, sizeof(path), "%s-shm", x->db) >= (int)sizeof(path))
		return SQLITE_CANTOPEN;
	if (stat(x->db, &st) < 0)
		return SQLITE_CANTOPEN;
	x->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, st.st_mode & 0777);
	if (x->fd < 0)
		return SQLITE_CANTOPEN;
	/* As os_unix.c: root (an export by hand) makes the index the store
	 * owner's, or the daemon's user could not open it afterwards. */
	if (geteuid() == 0 && fchown(x->fd, st.st_uid, st.st_gid) < 0)
		log_warn("store %s: WAL index owner", x->db);
	if (fcntl(x->fd, F_OFD_GETLK, &l) < 0) {
		close(x->fd);
		x->fd = -1;
		return SQLITE_IOERR_SHMOPEN;
	}
	fresh = l.l_type == F_UNLCK && shmvfs_lock(x->fd, F_WRLCK, SHMVFS_DMS, 1) == 0;
	/* Lost the race to another first user: it starts the index.  Any
	 * other failure: no trusting an index nobody may have started. */
	if (l.l_type == F_UNLCK && !fresh && errno != EAGAIN && errno != EACCES) {
		close(x->fd);
		x->fd = -1;
		return SQLITE_IOERR_SHMOPEN;
	}
	if ((!fresh || ftruncate(x->fd, 0) == 0) && shmvfs_lock(x->fd, F_RDLCK, SHMVFS_DMS, 1) == 0)
		return SQLITE_OK;
	close(x->fd);
	x->fd = -1;
	return SQLITE_BUSY;
}

static int shmvfs_map(sqlite3_file *f, int region, int size, int extend, void volatile **pp)
{
	struct shmvfs_index *x = shmvfs_of(f);
	off_t need = (off_t)(region + 1) * size;
	struct stat st;
	void **map;
	int rc;

	*pp = NULL;
	if (x->fd < 0 && (rc = shmvfs_open_index(x)) != SQLITE_OK)
		return rc;
	if (region < x->nmap) {
		*pp = x->map[region];
		return SQLITE_OK;
	}
	if (fstat(x->fd, &st) < 0)
		return SQLITE_IOERR_SHMSIZE;
	if (st.st_size < need && !extend)
		return SQLITE_OK; /* not there yet: SQLite asked only to look */
	/* Allocated now: a full file system is an error here, not a SIGBUS at
	 * the first write into the mapping. */
	if (st.st_size < need && posix_fallocate(x->fd, 0, need) != 0)
		return SQLITE_IOERR_SHMSIZE;
	if ((map = realloc(x->map, (size_t)(region + 1) * sizeof(*map))) == NULL)
		return SQLITE_IOERR_NOMEM;
	x->map = map;
	x->region_size = size;
	for (; x->nmap <= region; x->nmap++) {
		map[x->nmap] = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, x->fd,
				    (off_t)x->nmap * size);
		if (map[x->nmap] == MAP_FAILED)
			return SQLITE_IOERR_SHMMAP;
	}
	*pp = map[region];
	return SQLITE_OK;
}

static int shmvfs_shm_lock(sqlite3_file *f, int slot, int n, int flags)
{
	struct shmvfs_index *x = shmvfs_of(f);
	short type = (flags & SQLITE_SHM_UNLOCK)   ? F_UNLCK
		     : (flags & SQLITE_SHM_SHARED) ? F_RDLCK
						   : F_WRLCK;

	if (x->fd < 0)
		return SQLITE_IOERR_SHMLOCK;
	if (shmvfs_lock(x->fd, type, SHMVFS_LOCK_BASE + slot, n) == 0)
		return SQLITE_OK;
	return errno == EAGAIN || errno == EACCES ? SQLITE_BUSY : SQLITE_IOERR_SHMLOCK;
}

static void shmvfs_barrier(sqlite3_file *f)
{
	(void)f;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* delete_index: the last connection closes, the WAL checkpointed and gone:
 * the index goes, and its link with it (the sqlite3 shell may open the
 * store again). */
static int shmvfs_unmap(sqlite3_file *f, int delete_index)
{
	struct shmvfs_index *x = shmvfs_of(f);

	for (int i = 0; i < x->nmap; i++)
		munmap(x->map[i], (size_t)x->region_size);
	free(x->map);
	x->map = NULL;
	x->nmap = 0;
	if (x->fd >= 0 && delete_index)
		shmvfs_unlink(x->db);
	if (x->fd >= 0)
		close(x->fd);
	x->fd = -1;
	return SQLITE_OK;
}

static int shmvfs_close(sqlite3_file *f)
{
	shmvfs_unmap(f, 0);
	return shmvfs_unix_methods->xClose(f);
}

static int shmvfs_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *f, int flags,
		       int *out_flags)
{
	sqlite3_vfs *unix_vfs = vfs->pAppData;
	struct shmvfs_index *x = shmvfs_of(f);
	int rc = unix_vfs->xOpen(unix_vfs, name, f, flags, out_flags);

	if (rc != SQLITE_OK || !(flags & SQLITE_OPEN_MAIN_DB) || !name || !f->pMethods)
		return rc;
	if (!shmvfs_unix_methods) {
		shmvfs_unix_methods = f->pMethods;
		shmvfs_methods = *f->pMethods;
		shmvfs_methods.xClose = shmvfs_close;
		shmvfs_methods.xShmMap = shmvfs_map;
		shmvfs_methods.xShmLock = shmvfs_shm_lock;
		shmvfs_methods.xShmBarrier = shmvfs_barrier;
		shmvfs_methods.xShmUnmap = shmvfs_unmap;
	}
	/* Another locking style than the one copied (not on Linux): as is. */
	if (f->pMethods != shmvfs_unix_methods || shmvfs_methods.iVersion < 2)
		return rc;
	memset(x, 0, sizeof(*x));
	x->db = name;
	x->fd = -1;
	f->pMethods = &shmvfs_methods;
	return rc;
}

const char *shmvfs_name(void)
{
	static int state; /* 0 not tried, 1 registered, -1 failed */
	sqlite3_vfs *unix_vfs;

	if (state != 0)
		return state > 0 ? SHMVFS_NAME : NULL;
	state = -1;
	if ((unix_vfs = sqlite3_vfs_find("unix")) == NULL)
		return NULL;
	shmvfs_vfs = *unix_vfs;
	shmvfs_offset = (unix_vfs->szOsFile + 7) & ~7;
	shmvfs_vfs.szOsFile = shmvfs_offset + (int)sizeof(struct shmvfs_index);
	shmvfs_vfs.zName = SHMVFS_NAME;
	shmvfs_vfs.pAppData = unix_vfs;
	shmvfs_vfs.pNext = NULL;
	shmvfs_vfs.xOpen = shmvfs_open;
	if (sqlite3_vfs_register(&shmvfs_vfs, 0) == SQLITE_OK)
		state = 1;
	return state > 0 ? SHMVFS_NAME : NULL;
}

void shmvfs_set_dir(const char *dir)
{
	if (!dir || dir[0] != '/' ||
	    snprintf(shmvfs_dir, sizeof(shmvfs_dir), "%s", dir) >= (int)sizeof(shmvfs_dir))
		shmvfs_dir[0] = '\0';
}

/* Take <db>-shm (wherever it points) from its users while it is moved:
 * the dead-man byte held exclusively, so no SQLite program can start using
 * it until the caller closes the returned descriptor.  -1: there is none
 * (nothing to hold); -2: someone uses it, or it cannot be checked. */
static int shmvfs_hold(const char *link)
{
	int fd = open(link, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT ? -1 : -2;
	if (shmvfs_lock(fd, F_WRLCK, SHMVFS_DMS, 1) < 0) {
		close(fd);
		return -2;
	}
	return fd;
}

/* The index's name in the run directory: the database's base name and a
 * hash of its directory, so that two stores never share one. */
static int shmvfs_target(const char *db, char *target, size_t size)
{
	char dir[PATH_MAX], base[PATH_MAX], real[PATH_MAX];
	uint64_t h = 14695981039346656037ULL; /* FNV-1a */

	snprintf(dir, sizeof(dir), "%s", db);
	snprintf(base, sizeof(base), "%s", db);
	if (!realpath(dirname(dir), real))
		return -1;
	for (const char *p = real; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return snprintf(target, size, "%s/%s-%016" PRIx64 "-shm", shmvfs_dir, basename(base), h) <
		       (int)size
		   ? 0
		   : -1;
}

/* Remove <db>-shm and, when it is a link, the index it points to. */
void shmvfs_unlink(const char *db)
{
	char link[PATH_MAX], target[PATH_MAX];
	ssize_t n;

	if (snprintf(link, sizeof(link), "%s-shm", db) >= (int)sizeof(link))
		return;
	n = readlink(link, target, sizeof(target) - 1);
	if (n > 0) {
		target[n] = '\0';
		unlink(target);
	}
	unlink(link);
}

int shmvfs_link(const char *db)
{
	char link[PATH_MAX], target[PATH_MAX], cur[PATH_MAX], tmp[PATH_MAX];
	int held, rc;
	ssize_t n;

	if (!shmvfs_dir[0]) {
		/* No run directory (now): a link left by an earlier run (a crash,
		 * or the unit's run directory gone) would lead nowhere; the index
		 * goes back beside the database unless someone holds it. */
		if (snprintf(link, sizeof(link), "%s-shm", db) < (int)sizeof(link) &&
		    readlink(link, cur, sizeof(cur) - 1) > 0 && (held = shmvfs_hold(link)) != -2) {
			shmvfs_unlink(db);
			if (held >= 0)
				close(held);
		}
		return 0;
	}
	if (snprintf(link, sizeof(link), "%s-shm", db) >= (int)sizeof(link) ||
	    snprintf(tmp, sizeof(tmp), "%s-shm.lnk", db) >= (int)sizeof(tmp) ||
	    shmvfs_target(db, target, sizeof(target)) < 0) {
		log_warnx("store %s: WAL index: no name in %s, kept beside the database", db,
			  shmvfs_dir);
		return -1;
	}
	n = readlink(link, cur, sizeof(cur) - 1);
	if (n > 0 && (size_t)n == strlen(target) && memcmp(cur, target, (size_t)n) == 0)
		return 0;
	/* Moving an index in use would split it in two. */
	held = shmvfs_hold(link);
	if (held == -2) {
		log_warnx("store %s: WAL index in use by another program: kept where it is", db);
		return -1;
	}
	unlink(tmp);
	rc = symlink(target, tmp) < 0 || rename(tmp, link) < 0 ? -1 : 0;
	if (rc < 0) {
		log_warn("store %s: WAL index link to %s", db, target);
		unlink(tmp);
	}
	if (held >= 0)
		close(held);
	return rc;
}
