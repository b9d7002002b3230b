"""JSON routes for the filter bar: check a display filter, complete field names."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.core import fields
from app.core.dfilter import check
from app.core.filtering import limits
from app.models import ErrorBody, FieldList, FilterCheck
from app.web.deps import SettingsDep

router = APIRouter(prefix="/api/filter", tags=["filters"], responses={422: {"model": ErrorBody}})


@router.get("/check", response_model=FilterCheck)
async def check_filter(settings: SettingsDep,
                       filter: Annotated[str, Query(max_length=65536)] = "") -> dict:
    """Whether a display filter is valid; where it breaks; what looks suspicious."""
    result = check(filter, limits(settings.max_filter_length))
    body: dict = {"valid": result.valid, "canonical": result.canonical,
                  "warnings": [{"message": w.message, "position": w.position, "length": w.length}
                               for w in result.warnings]}
    if not result.valid:
        body.update(error=result.error, position=result.position, length=result.length)
    return body


@router.get("/fields", response_model=FieldList)
async def complete_fields(prefix: Annotated[str, Query(max_length=200)] = "",
                          limit: Annotated[int, Query(ge=1, le=500)] = 50) -> dict:
    """Protocol and field names starting with ``prefix``, nearest first."""
    return {"fields": [{"name": f.name, "description": f.description, "type": f.type.value}
                       for f in fields.complete(prefix, limit)]}
