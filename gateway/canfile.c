#include "gateway/canfile.h"

#include <string.h>

void canfile_init(struct canfile *cf, FILE *fp)
{
	cf->fp = fp;
	cf->line = 0;
	cf->text[0] = '\0';
}

/* The rest of an overlong line, up to and with its newline. */
static void canfile_skip_line(struct canfile *cf)
{
	int c;

	while ((c = getc(cf->fp)) != EOF && c != '\n')
		;
}

enum canfile_rc canfile_next(struct canfile *cf)
{
	size_t n;

	if (!fgets(cf->text, sizeof(cf->text), cf->fp))
		return ferror(cf->fp) ? CANFILE_ERROR : CANFILE_END;
	cf->line++;
	n = strlen(cf->text);
	/* fgets cut the line: the tail must not be read as a line of its own. */
	if (n == sizeof(cf->text) - 1 && cf->text[n - 1] != '\n') {
		canfile_skip_line(cf);
		return ferror(cf->fp) ? CANFILE_ERROR : CANFILE_LONG;
	}
	cf->text[strcspn(cf->text, "\r\n")] = '\0';
	return CANFILE_LINE;
}

int canfile_rewind(struct canfile *cf)
{
	cf->line = 0;
	return fseek(cf->fp, 0, SEEK_SET);
}
