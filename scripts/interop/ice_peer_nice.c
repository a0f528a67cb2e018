/* A libnice (Debian libnice-dev) ICE agent that swaps descriptions with `natsim connect`
 * through files, in natsim's text format (docs/ice.md, "On real sockets"): ice-ufrag:,
 * ice-pwd:, one candidate line each ("a=candidate:..." as libnice writes them) and
 * end-of-candidates.
 *
 *   ice_peer_nice --role controlling|controlled --offer-out MINE --remote THEIRS
 *                 [--bind IP] [--stun IP:PORT] [--count 3] [--echo-count 3] [--timeout 20]
 *
 * RFC 5245 compatibility (libnice's RFC 8445 agent), regular nomination, UDP only. Once
 * the component is READY (nominated) it sends "nice-ping-N" --count times and echoes every
 * other datagram; it finishes when its pings have come back and it has echoed
 * --echo-count datagrams. Prints "selected LOCAL -> REMOTE", "recv TEXT" per datagram and
 * "RESULT OK" (exit 0) or "RESULT FAIL reason" (exit 1).
 *
 * Build: cc -o ice_peer_nice ice_peer_nice.c $(pkg-config --cflags --libs nice glib-2.0)
 */
#include <agent.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static GMainLoop *loop;
static NiceAgent *agent;
static guint stream;
static const char *offer_out, *remote_path;
static int count = 3, echo_count = 3;
static int pings_back, echoed, ready, sent, result = 1;
static gboolean *ping_seen;

static void finish(int ok, const char *why) {
  if (ok)
    printf("RESULT OK\n");
  else
    printf("RESULT FAIL %s\n", why);
  fflush(stdout);
  result = ok ? 0 : 1;
  g_main_loop_quit(loop);
}

static void maybe_done(void) {
  if (ready && pings_back == count && echoed >= echo_count) {
    printf("pings back %d/%d, echoed %d\n", pings_back, count, echoed);
    finish(1, NULL);
  }
}

static const char *type_name(NiceCandidateType t) {
  switch (t) {
    case NICE_CANDIDATE_TYPE_HOST: return "host";
    case NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE: return "srflx";
    case NICE_CANDIDATE_TYPE_PEER_REFLEXIVE: return "prflx";
    case NICE_CANDIDATE_TYPE_RELAYED: return "relay";
  }
  return "?";
}

static void on_gathering_done(NiceAgent *a, guint stream_id, gpointer data) {
  gchar *ufrag = NULL, *pwd = NULL;
  GString *text = g_string_new(NULL);
  GSList *cands, *i;
  gchar *tmp = g_strconcat(offer_out, ".tmp", NULL);
  (void)data;
  nice_agent_get_local_credentials(a, stream_id, &ufrag, &pwd);
  g_string_append_printf(text, "ice-ufrag:%s\nice-pwd:%s\n", ufrag, pwd);
  cands = nice_agent_get_local_candidates(a, stream_id, 1);
  for (i = cands; i; i = i->next) {
    gchar *line = nice_agent_generate_local_candidate_sdp(a, i->data);
    g_string_append_printf(text, "%s\n", line);
    g_free(line);
  }
  g_string_append(text, "end-of-candidates\n");
  /* Written whole, then renamed: the reader never sees half of it. */
  if (!g_file_set_contents(tmp, text->str, -1, NULL) || rename(tmp, offer_out) != 0) {
    finish(0, "cannot write the description");
  } else {
    printf("%s", text->str);
    fflush(stdout);
  }
  g_slist_free_full(cands, (GDestroyNotify)nice_candidate_free);
  g_string_free(text, TRUE);
  g_free(tmp);
  g_free(ufrag);
  g_free(pwd);
}

static void send_text(const char *s) {
  if (nice_agent_send(agent, stream, 1, strlen(s), s) < 0) fprintf(stderr, "send failed\n");
}

static void on_state(NiceAgent *a, guint stream_id, guint component, guint state, gpointer d) {
  (void)a, (void)stream_id, (void)component, (void)d;
  printf("state %s\n", nice_component_state_to_string(state));
  fflush(stdout);
  if (state == NICE_COMPONENT_STATE_FAILED) finish(0, "ICE failed");
  if (state == NICE_COMPONENT_STATE_READY && !ready) {
    ready = 1;
    for (; sent < count; sent++) {
      gchar *ping = g_strdup_printf("nice-ping-%d", sent);
      send_text(ping);
      g_free(ping);
    }
    maybe_done();
  }
}

static void on_selected(NiceAgent *a, guint stream_id, guint component, NiceCandidate *l,
                        NiceCandidate *r, gpointer d) {
  char la[NICE_ADDRESS_STRING_LEN], ra[NICE_ADDRESS_STRING_LEN];
  (void)a, (void)stream_id, (void)component, (void)d;
  nice_address_to_string(&l->addr, la);
  nice_address_to_string(&r->addr, ra);
  printf("selected %s %s:%u -> %s %s:%u\n", type_name(l->type), la,
         nice_address_get_port(&l->addr), type_name(r->type), ra,
         nice_address_get_port(&r->addr));
  fflush(stdout);
}

static void on_recv(NiceAgent *a, guint stream_id, guint component, guint len, gchar *buf,
                    gpointer d) {
  gchar *text = g_strndup(buf, len);
  int n;
  (void)a, (void)stream_id, (void)component, (void)d;
  printf("recv %s\n", text);
  fflush(stdout);
  if (sscanf(text, "nice-ping-%d", &n) == 1 && n >= 0 && n < count) {
    if (!ping_seen[n]) pings_back++;
    ping_seen[n] = TRUE;
  } else {
    send_text(text);
    echoed++;
  }
  g_free(text);
  maybe_done();
}

/* Polls the remote file until it holds a complete description. */
static gboolean poll_remote(gpointer d) {
  gchar *content = NULL, **lines;
  GSList *cands = NULL;
  const gchar *ufrag = NULL, *pwd = NULL;
  int i, complete = 0;
  (void)d;
  if (!g_file_get_contents(remote_path, &content, NULL, NULL)) return G_SOURCE_CONTINUE;
  lines = g_strsplit(content, "\n", -1);
  for (i = 0; lines[i]; i++) {
    g_strstrip(lines[i]);
    if (strcmp(lines[i], "end-of-candidates") == 0) complete = 1;
  }
  if (!complete) {
    g_strfreev(lines);
    g_free(content);
    return G_SOURCE_CONTINUE;
  }
  for (i = 0; lines[i]; i++) {
    const gchar *l = lines[i];
    if (g_str_has_prefix(l, "a=")) l += 2;
    if (g_str_has_prefix(l, "ice-ufrag:")) {
      ufrag = l + strlen("ice-ufrag:");
    } else if (g_str_has_prefix(l, "ice-pwd:")) {
      pwd = l + strlen("ice-pwd:");
    } else if (g_str_has_prefix(l, "candidate:")) {
      /* libnice parses the attribute with its "a=". */
      gchar *sdp = g_strconcat("a=", l, NULL);
      NiceCandidate *c = nice_agent_parse_remote_candidate_sdp(agent, stream, sdp);
      if (c)
        cands = g_slist_append(cands, c);
      else
        fprintf(stderr, "libnice could not parse: %s\n", l);
      g_free(sdp);
    }
  }
  if (!ufrag || !pwd || !nice_agent_set_remote_credentials(agent, stream, ufrag, pwd)) {
    finish(0, "bad remote credentials");
  } else if (nice_agent_set_remote_candidates(agent, stream, 1, cands) < 1) {
    finish(0, "no usable remote candidate");
  }
  g_slist_free_full(cands, (GDestroyNotify)nice_candidate_free);
  g_strfreev(lines);
  g_free(content);
  return G_SOURCE_REMOVE;
}

static gboolean on_timeout(gpointer d) {
  (void)d;
  finish(0, "timeout");
  return G_SOURCE_REMOVE;
}

int main(int argc, char **argv) {
  const char *role = NULL, *bind_ip = NULL, *stun = NULL;
  double timeout = 20;
  int i;
  for (i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--role")) role = argv[i + 1];
    else if (!strcmp(argv[i], "--offer-out")) offer_out = argv[i + 1];
    else if (!strcmp(argv[i], "--remote")) remote_path = argv[i + 1];
    else if (!strcmp(argv[i], "--bind")) bind_ip = argv[i + 1];
    else if (!strcmp(argv[i], "--stun")) stun = argv[i + 1];
    else if (!strcmp(argv[i], "--count")) count = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--echo-count")) echo_count = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--timeout")) timeout = atof(argv[i + 1]);
    else break;
  }
  if (i != argc || !role || !offer_out || !remote_path || count < 0 || count > 1000 ||
      (strcmp(role, "controlling") && strcmp(role, "controlled"))) {
    fprintf(stderr, "usage: %s --role controlling|controlled --offer-out FILE --remote FILE "
                    "[--bind IP] [--stun IP:PORT] [--count N] [--echo-count N] [--timeout S]\n",
            argv[0]);
    return 2;
  }
  ping_seen = g_new0(gboolean, count + 1);
  loop = g_main_loop_new(NULL, FALSE);
  agent = nice_agent_new_full(g_main_loop_get_context(loop), NICE_COMPATIBILITY_RFC5245,
                              NICE_AGENT_OPTION_REGULAR_NOMINATION);
  g_object_set(agent, "controlling-mode", strcmp(role, "controlling") == 0, "ice-tcp", FALSE,
               NULL);
  if (stun) {
    gchar **hp = g_strsplit(stun, ":", 2);
    if (hp[0] && hp[1])
      g_object_set(agent, "stun-server", hp[0], "stun-server-port", atoi(hp[1]), NULL);
    g_strfreev(hp);
  }
  if (bind_ip) {
    NiceAddress a;
    nice_address_init(&a);
    if (!nice_address_set_from_string(&a, bind_ip) || !nice_agent_add_local_address(agent, &a)) {
      fprintf(stderr, "bad --bind %s\n", bind_ip);
      return 2;
    }
  }
  g_signal_connect(agent, "candidate-gathering-done", G_CALLBACK(on_gathering_done), NULL);
  g_signal_connect(agent, "component-state-changed", G_CALLBACK(on_state), NULL);
  g_signal_connect(agent, "new-selected-pair-full", G_CALLBACK(on_selected), NULL);
  stream = nice_agent_add_stream(agent, 1);
  nice_agent_attach_recv(agent, stream, 1, g_main_loop_get_context(loop), on_recv, NULL);
  if (!nice_agent_gather_candidates(agent, stream)) {
    printf("RESULT FAIL gathering\n");
    return 1;
  }
  g_timeout_add(50, poll_remote, NULL);
  g_timeout_add((guint)(timeout * 1000), on_timeout, NULL);
  g_main_loop_run(loop);
  g_object_unref(agent);
  g_main_loop_unref(loop);
  g_free(ping_seen);
  return result;
}
