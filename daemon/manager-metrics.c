/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Prometheus metrics: damond's state as lib/metrics.c's view (manager_metrics_view()), rendered, served
 * as the "metrics" control verb and written to the node_exporter textfile
 * (damond: {metrics: {textfile: PATH}}) on every stats tick. damond itself
 * listens on nothing but its AF_UNIX control socket.
 */
#include <json-c/json.h>

#include "log.h"
#include "manager.h"
#include "metrics.h"

int manager_metrics_text(struct manager *m, char **ret, size_t *ret_len)
{
	struct metrics_view v;
	struct json_object *hold = NULL;
	int r;

	r = manager_metrics_view(m, &v, &hold);
	if (r >= 0)
		r = metrics_render_view_string(&v, ret, ret_len);
	metrics_view_done(&v);
	json_object_put(hold);
	return r;
}

void manager_metrics_tick(struct manager *m)
{
	/* log a failure once, and again only when it changes or after a success */
	static int last_err;
	/* the file this damond wrote: removed when a reload moves or drops it (no stale copy left) */
	static char *written;
	_cleanup_free_ char *text = NULL;
	const char *path = m->config ? m->config->settings.metrics.textfile : NULL;
	size_t len;
	int r;

	if (written && (!path || !streq(path, written))) {
		if (unlink(written) < 0 && errno != ENOENT)
			log_warning_errno(errno, "metrics: cannot remove the previous textfile '%s': %m", written);
		else
			log_info("metrics: removed the previous textfile '%s'", written);
		free(written);
		written = NULL;
		last_err = 0;
	}
	if (!path)
		return;
	r = manager_metrics_text(m, &text, &len);
	if (r >= 0)
		r = metrics_write_textfile(path, text, len);
	if (r >= 0 && !written)
		written = strdup(path); /* on ENOMEM the file is merely not removed later */
	if (r < 0 && r != last_err)
		/* EROFS under the unit's ProtectSystem=strict: only listed directories are writable */
		log_warning_errno(r, "metrics: cannot write the textfile '%s': %m (retrying every stats interval)%s",
				  path,
				  r == -EROFS && getenv("INVOCATION_ID")
					  ? "; the unit makes the file system read-only except its ReadWritePaths=: "
					    "add the textfile's directory in a drop-in (docs/METRICS.md)"
					  : "");
	else if (r >= 0 && last_err)
		log_info("metrics: the textfile '%s' is written again", path);
	last_err = r < 0 ? r : 0;
}
