#include "proto.h"

const char *pw_msg_name(uint16_t t)
{
	static const char *const n[PW_MSG_COUNT] = {
		"PW_NONE", "PW_HELLO", "PW_CONFIG", "PW_ROOT", "PW_LISTEN", "PW_START",
		"PW_READY", "PW_LOG", "PW_MOUNTER_WANT", "PW_MOUNTER", "PW_MOUNTER_NONE",
		"PW_MOUNTER_STALLED",
	};
	return t < PW_MSG_COUNT ? n[t] : "PW_UNKNOWN";
}

const char *wm_msg_name(uint16_t t)
{
	static const char *const n[WM_MSG_COUNT] = {
		"WM_NONE", "WM_HELLO", "WM_READY", "WM_FAILED", "WM_OPEN", "WM_OPENED",
		"WM_PROGRESS", "WM_ERROR", "WM_CLOSE",
	};
	return t < WM_MSG_COUNT ? n[t] : "WM_UNKNOWN";
}

const char *pm_msg_name(uint16_t t)
{
	static const char *const n[PM_MSG_COUNT] = { "PM_NONE", "PM_HELLO", "PM_CONFIG", "PM_STATUS" };
	return t < PM_MSG_COUNT ? n[t] : "PM_UNKNOWN";
}
