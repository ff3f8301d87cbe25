/* The log line each finished transfer leaves, and the line each refusal leaves:
 * text (key=value) or JSON (--log-format json). Client strings are escaped. */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "log.h"
#include "worker.h"

/* One JSON object, one line; the object is consumed. */
static void emit_json(cJSON *o)
{
	char *s = cJSON_PrintUnformatted(o);
	if (s)
		log_line(LOG_LVL_INFO, s);
	free(s);
	cJSON_Delete(o);
}

static void record_json(struct transfer *t, const char *outcome, const char *detail,
			const char *client, uint64_t ms)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return;
	cJSON_AddStringToObject(o, "event", "transfer");
	cJSON_AddStringToObject(o, "client", client);
	cJSON_AddNumberToObject(o, "port", addr_port(&t->peer));
	cJSON_AddStringToObject(o, "file", t->name);  /* cJSON escapes it */
	cJSON_AddStringToObject(o, "root", t->file ? origin_name(t->file->origin) : "none");
	cJSON_AddStringToObject(o, "mode", t->mode == TFTP_MODE_NETASCII ? "netascii" : "octet");
	cJSON_AddNumberToObject(o, "bytes", (double)t->bytes_sent);
	cJSON_AddNumberToObject(o, "size", t->file ? (double)t->file->size : 0);
	cJSON_AddNumberToObject(o, "blksize", t->neg.blksize);
	cJSON_AddNumberToObject(o, "windowsize", t->neg.windowsize);
	cJSON_AddNumberToObject(o, "timeout", t->neg.timeout_s);
	cJSON_AddBoolToObject(o, "tsize", t->neg.accepted[OPT_TSIZE]);
	cJSON_AddNumberToObject(o, "duration_ms", (double)ms);
	cJSON_AddNumberToObject(o, "retransmits", (double)t->retransmits);
	cJSON_AddStringToObject(o, "outcome", outcome);
	if (detail)
		cJSON_AddStringToObject(o, "detail", detail);
	emit_json(o);
}

void record_transfer(struct transfer *t, const char *outcome, const char *detail)
{
	char client[RTFTP_ADDR_MAX + 8], name[TFTP_NAME_MAX * 4 + 8], det[512];
	uint64_t ms = t->w->now_ms - t->start_ms;
	if (t->w->cfg.log_json) {
		addr_to_text(&t->peer, client, sizeof(client));   /* the port is its own key */
		record_json(t, outcome, detail, client, ms);
		return;
	}
	addr_to_text_port(&t->peer, client, sizeof(client));
	log_escape(name, sizeof(name), t->name, strlen(t->name));
	log_escape(det, sizeof(det), detail ? detail : "", detail ? strlen(detail) : 0);
	log_info("transfer client=%s file=\"%s\" root=%s mode=%s bytes=%llu blksize=%u "
		 "windowsize=%u timeout=%u duration_ms=%llu retransmits=%llu outcome=%s%s%s%s",
		 client, name, t->file ? origin_name(t->file->origin) : "none",
		 t->mode == TFTP_MODE_NETASCII ? "netascii" : "octet",
		 (unsigned long long)t->bytes_sent, t->neg.blksize, t->neg.windowsize,
		 t->neg.timeout_s, (unsigned long long)ms, (unsigned long long)t->retransmits,
		 outcome, detail ? " detail=\"" : "", detail ? det : "", detail ? "\"" : "");
}

void record_refusal(struct worker *w, const struct sockaddr_storage *peer, const char *name,
		    size_t namelen, const char *why)
{
	char client[RTFTP_ADDR_MAX + 8], esc[TFTP_NAME_MAX * 4 + 8];
	addr_to_text_port(peer, client, sizeof(client));
	log_escape(esc, sizeof(esc), name ? name : "", name ? namelen : 0);
	if (w->cfg.log_json) {
		cJSON *o = cJSON_CreateObject();
		if (!o)
			return;
		cJSON_AddStringToObject(o, "event", "refused");
		cJSON_AddStringToObject(o, "client", client);
		cJSON_AddStringToObject(o, "file", esc);
		cJSON_AddStringToObject(o, "reason", why);
		emit_json(o);
		return;
	}
	log_info("refused client=%s file=\"%s\" reason=\"%s\"", client, esc, why);
}
