import type { Api } from "./api";
import { HttpApi } from "./http";
import { ReportApi } from "./report";
import { readToken } from "./token";
import type { ReportPayload } from "./types";

export type { Api, LiveHandlers, ScalarQuery } from "./api";
export { ApiError, NotRecordedError, isNotRecorded } from "./errors";
export type * from "./types";

export const PAYLOAD_ELEMENT_ID = "deepscope-payload";

/** Report mode when the page embeds a payload, otherwise the server this page was served from. */
export function createApi(doc: Document = document): Api {
  const el = doc.getElementById(PAYLOAD_ELEMENT_ID);
  if (el && el.getAttribute("type") === "application/json") {
    return new ReportApi(JSON.parse(el.textContent ?? "{}") as ReportPayload);
  }
  // Served under any prefix: the API lives next to index.html.
  const base = window.location.pathname.replace(/\/[^/]*$/, "");
  return new HttpApi(base, readToken());
}
