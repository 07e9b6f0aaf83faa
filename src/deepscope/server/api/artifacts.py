"""``/api/runs/{run_id}/artifacts``: stored explain results and their binary parts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.responses import Response

from deepscope.errors import NotRecordedError
from deepscope.server.deps import ReaderDep
from deepscope.server.schemas import ERROR_RESPONSES, Artifact, ArtifactInfo

router = APIRouter(prefix="/api/runs/{run_id}/artifacts", tags=["artifacts"],
                   responses=ERROR_RESPONSES)

#: Blob types served as themselves; anything else is sent as an opaque download, so a stored
#: HTML or SVG blob can never run script in the dashboard's origin.
SAFE_MIME = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif", "application/json",
                       "application/octet-stream", "text/plain", "text/csv"})

ArtifactId = Annotated[int, PathParam(ge=1, le=2**62)]
BlobKey = Annotated[str, PathParam(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._-]+$")]


@router.get("", response_model=list[ArtifactInfo])
def list_artifacts(reader: ReaderDep) -> list[dict[str, Any]]:
    """Stored artifacts, oldest first."""
    return [a.to_dict() for a in reader.artifacts()]


@router.get("/{artifact_id}", response_model=Artifact)
def get_artifact(reader: ReaderDep, artifact_id: ArtifactId) -> dict[str, Any]:
    """One artifact: its info and JSON data (binary parts under ``blobs/{key}``)."""
    art = reader.artifact(artifact_id)
    return {"info": art.info.to_dict(), "data": art.data}


@router.get("/{artifact_id}/blobs/{key}", response_class=Response,
            responses={200: {"content": {"application/octet-stream": {}}}})
def get_blob(reader: ReaderDep, artifact_id: ArtifactId, key: BlobKey) -> Response:
    """Raw bytes of one blob with its stored MIME type (unsafe types as a download)."""
    art = reader.artifact(artifact_id)
    if key not in art.blobs:
        raise NotRecordedError(f"artifact {artifact_id} has no blob {key!r}")
    mime, data = art.blobs[key]
    if mime.split(";")[0].strip().lower() in SAFE_MIME:
        return Response(data, media_type=mime)
    return Response(data, media_type="application/octet-stream",
                    headers={"Content-Disposition": f'attachment; filename="{key}"'})
