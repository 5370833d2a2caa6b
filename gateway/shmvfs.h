/* shmvfs: the SQLite VFS the store opens its file with: "unix", with the WAL
 * index (<db>-shm) allowed to be a link into a RAM run directory.
 * Owns that link and the index's memory and locks; not the database or WAL. */
#ifndef EMGW_SHMVFS_H
#define EMGW_SHMVFS_H

/* The VFS's name for sqlite3_open_v2 (registered on the first call), or
 * NULL (SQLite's default then) when it cannot be registered. */
const char *shmvfs_name(void);

/* Keep the WAL index of stores opened from now on in dir (the run
 * directory, RAM), or beside the database when dir is NULL. */
void shmvfs_set_dir(const char *dir);

/* Before opening db: make <db>-shm a link to <dir>/<base name of db>-<hash
 * of its directory>-shm when a dir is set and no other process has the index open.  0, or -1
 * (logged; the index then stays where it is, which is correct, only on
 * flash). */
int shmvfs_link(const char *db);

/* Remove <db>-shm and, when it is a link, the index it points to (a store
 * moved aside: a new store must not find the old one's index). */
void shmvfs_unlink(const char *db);

#endif
