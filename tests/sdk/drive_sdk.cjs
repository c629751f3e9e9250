// Contio's official SDK, as an internal service uses it, pointed at the gateway: its base URL is
// the gateway's SDK base path (SDK_BASE_URL), its access token the service's key
// (SDK_ACCESS_TOKEN). Calls every user-API read the SDK offers (SDK_ONLY: just that one) and, with
// SDK_WRITE, creates one action item twice with the same idempotency key. Prints
// {"calls": {name: {ok, value} | {ok: false, status, code, message}}, "write": ...} as JSON.
'use strict';

const path = require('node:path');
const crypto = require('node:crypto');
const { OAuthClient, PartnerUserClient } = require(
  path.join(process.env.SDK_MODULES, '@contio', 'partner-sdk'),
);

const DAY = 86400 * 1000;
const UNKNOWN = '00000000-0000-4000-8000-000000000000';

function plain(value) {
  // A raw download comes back as the axios response: keep what can be shown.
  if (value && typeof value === 'object' && 'status' in value && 'headers' in value && 'data' in value) {
    return { status: value.status, length: String(value.data).length };
  }
  return value === undefined ? null : value;
}

async function main() {
  const oauth = new OAuthClient({
    clientId: 'unused',
    clientSecret: 'unused',
    redirectUri: 'http://unused.invalid/callback',
  });
  oauth.setTokens({ accessToken: process.env.SDK_ACCESS_TOKEN });
  const user = new PartnerUserClient(oauth, { baseURL: process.env.SDK_BASE_URL });
  const only = process.env.SDK_ONLY;
  const calls = {};

  async function call(name, run) {
    if (only && name !== only) return undefined;
    try {
      const value = await run();
      calls[name] = { ok: true, value: plain(value) };
      return value;
    } catch (error) {
      calls[name] = {
        ok: false,
        status: error.statusCode ?? null,
        code: error.code ?? null,
        message: String(error.message),
      };
      return undefined;
    }
  }

  // The reads of Contio's reference.
  await call('getUserProfile', () => user.getUserProfile());
  const meetings = await call('getMeetings', () => user.getMeetings());
  await call('getAllMeetings', () => user.getAllMeetings());
  const meetingId = meetings?.items?.[0]?.id ?? UNKNOWN;
  await call('getMeeting', () => user.getMeeting(meetingId));
  await call('getMeetingParticipants', () => user.getMeetingParticipants(meetingId));
  await call('getMeetingAgendaItems', () => user.getMeetingAgendaItems(meetingId));
  const items = await call('getActionItems', () => user.getActionItems());
  await call('getAllActionItems', () => user.getAllActionItems());
  await call('getActionItem', () => user.getActionItem(items?.items?.[0]?.id ?? UNKNOWN));
  const range = {
    start_date: new Date(Date.now() - 30 * DAY).toISOString(),
    end_date: new Date(Date.now() + 30 * DAY).toISOString(),
  };
  const events = await call('getCalendarEvents', () => user.getCalendarEvents(range));
  await call('getAllCalendarEvents', () => user.getAllCalendarEvents(range));
  await call('getCalendarEvent', () => user.getCalendarEvent(events?.items?.[0]?.id ?? UNKNOWN));

  // The reads beyond Contio's reference, which the sandbox answers with fixed records.
  const steps = await call('getMeetingNextSteps', () => user.getMeetingNextSteps(meetingId));
  const resultId = steps?.items?.[0]?.latest_result_id ?? UNKNOWN;
  await call('getNextStepResult', () => user.getNextStepResult(resultId));
  await call('getMeetingActionButtons', () => user.getMeetingActionButtons(meetingId));
  await call('exportMeetingTranscript', () => user.exportMeetingTranscript(meetingId));
  const documents = await call('getMeetingContextDocuments', () =>
    user.getMeetingContextDocuments(meetingId),
  );
  await call('getAllMeetingContextDocuments', () => user.getAllMeetingContextDocuments(meetingId));
  const documentId = documents?.items?.[0]?.id ?? UNKNOWN;
  await call('getMeetingContextDocument', () => user.getMeetingContextDocument(meetingId, documentId));
  await call('downloadMeetingContextDocumentContent', () =>
    user.downloadMeetingContextDocumentContent(meetingId, documentId),
  );
  const sessions = await call('getChatSessions', () => user.getChatSessions());
  const sessionId = sessions?.items?.[0]?.id ?? UNKNOWN;
  const session = await call('getChatSession', () => user.getChatSession(sessionId));
  await call('getChatTurn', () => user.getChatTurn(sessionId, session?.turns?.items?.[0]?.id ?? UNKNOWN));
  const toolkits = await call('getToolkits', () => user.getToolkits());
  await call('getToolkit', () => user.getToolkit(toolkits?.items?.[0]?.id ?? UNKNOWN));
  const templates = await call('getMeetingTemplates', () => user.getMeetingTemplates());
  await call('getMeetingTemplate', () => user.getMeetingTemplate(templates?.items?.[0]?.id ?? UNKNOWN));
  const runs = await call('listWorkflowRuns', () => user.listWorkflowRuns());
  await call('getWorkflowRun', () => user.getWorkflowRun(runs?.items?.[0]?.id ?? UNKNOWN));

  let write = null;
  if (process.env.SDK_WRITE) {
    const title = `Through the gateway ${crypto.randomUUID()}`;
    const options = { idempotencyKey: crypto.randomUUID() };
    const meeting = meetings?.items?.[0]?.id ?? (await user.getMeetings()).items[0].id;
    const data = { meeting_id: meeting, title };
    const first = await user.createActionItem(data, options);
    const second = await user.createActionItem(data, options);
    write = { title, first, second };
  }
  process.stdout.write(JSON.stringify({ calls, write }));
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
