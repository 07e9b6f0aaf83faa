/** An API call failed; `status` is the HTTP status (0 for network failures). */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** The data asked for was not recorded in this run (HTTP 404, or absent from a report). */
export class NotRecordedError extends ApiError {
  constructor(message: string) {
    super(message, 404);
    this.name = "NotRecordedError";
  }
}

export function isNotRecorded(err: unknown): err is NotRecordedError {
  return err instanceof NotRecordedError;
}
