"""The Edge cases page's Review section: accept, reject or relabel the rows shown.

Every row shows its current decision, the newest in the store's ``reviews`` table
(:mod:`curate.reviews`). Started with ``curate dashboard --allow-review``, the section edits: pick
a decision per row in the table (and the new label for a relabel), give your name and save;
the decisions are appended to the ``reviews`` table, the one thing the dashboard ever writes.
When the page passes row groups (a cluster id per row), every row of a group can be accepted or
rejected at once. Without the flag the decisions are shown read-only, with how to enable
review. Training honours them (``trainer.data``): rejected rows never train, relabels are the
rows' labels, and ``require_review`` trains on accepted or relabelled rows only.

>>> parse_label("pos"), parse_label(" 1 "), parse_label('{"text": ["x"]}')
('pos', 1, {'text': ['x']})
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from curate.errors import CurateError
from curate.reviews import DECISIONS, RELABEL, ReviewError, default_reviewer, write_reviews
from curate.reviews import read_reviews as _read_reviews
from curate.store_reader import StoreReader
from dashboard import data, ui
from dashboard.cache import memo

#: Rows the editor shows at most (narrow the filters to review others).
EDIT_ROWS = 500
DECISION, NEW_LABEL, NOTE = "decision", "new label", "note"
CURRENT, BY, AT = "current decision", "reviewed by", "reviewed at"
ENABLE = (
    "Review is read-only. Start the dashboard with `curate dashboard --store DIR "
    "--allow-review` to accept, reject or relabel these rows here."
)
_FLASH, _GEN = "review_flash", "review_editor_generation"


def parse_label(text: str) -> Any:
    """A typed label: a JSON value when it reads as one (``1``, ``{"text": [...]}``), else
    the text itself."""
    text = text.strip()
    try:
        return json.loads(text)
    except ValueError:
        return text


@memo(["reviews"])
def current_reviews(root: Path) -> pd.DataFrame:
    """The newest decision per edge case, indexed by id (read-only).

    >>> import tempfile
    >>> list(current_reviews(Path(tempfile.mkdtemp())).columns)
    ['decision', 'label', 'reviewer', 'ts', 'note']
    """
    frame = _read_reviews(StoreReader(root)).to_pandas()
    return frame.set_index("id")[["decision", "label", "reviewer", "ts", "note"]]


def _shown_columns(root: Path, shown: pd.DataFrame) -> list[str]:
    """What a reviewer reads to decide: the text columns and the logged labels."""
    labels = [c for c in shown.columns if c == "gts" or c.startswith("gts.")]
    texts = [c for c in data.text_columns(root) if c in shown.columns and c not in labels][:2]
    return [c for c in dict.fromkeys(["id", *texts, *labels]) if c in shown.columns]


def review_frame(shown: pd.DataFrame, current: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The editor's rows: decision, new label and note to fill in, then the row and its
    current decision.

    >>> rows = pd.DataFrame({"id": [1, 2], "text": ["a", "b"]})
    >>> now = pd.DataFrame({"decision": ["reject"], "label": [None], "reviewer": ["ana"],
    ...                     "ts": [pd.Timestamp(0, tz="UTC")], "note": [None]}, index=[2])
    >>> review_frame(rows, now, ["id", "text"])[["id", "current decision", "reviewed by"]].values.tolist()
    [[1, '', ''], [2, 'reject', 'ana']]
    """
    frame = shown[columns].reset_index(drop=True).copy()
    found = current.reindex(frame["id"].to_numpy())
    labels = found["label"].where(found["decision"] == RELABEL)
    current_text = [
        "" if pd.isna(d) else f"relabel → {json.loads(lab)}" if d == RELABEL else d
        for d, lab in zip(found["decision"], labels, strict=True)
    ]
    frame.insert(0, DECISION, pd.Series([None] * len(frame), dtype="object"))
    frame.insert(1, NEW_LABEL, pd.Series([""] * len(frame), dtype="object"))
    frame.insert(2, NOTE, pd.Series([""] * len(frame), dtype="object"))
    frame[CURRENT] = current_text
    frame[BY] = found["reviewer"].fillna("").to_numpy()
    frame[AT] = found["ts"].to_numpy()
    return frame


def decisions_from_editor(edited: pd.DataFrame) -> list[dict[str, Any]]:
    """The decisions chosen in the editor (rows left blank are not decided).

    >>> rows = pd.DataFrame({"decision": ["accept", None, "relabel"], "new label": ["", "", "pos"],
    ...                      "note": ["ok", "", ""], "id": [4, 5, 6]})
    >>> decisions_from_editor(rows)
    [{'id': 4, 'decision': 'accept', 'note': 'ok'}, {'id': 6, 'decision': 'relabel', 'label': 'pos'}]
    >>> decisions_from_editor(rows.assign(**{"new label": ""}))
    Traceback (most recent call last):
    curate.reviews.ReviewError: row id 6: a relabel needs the new label (type it in 'new label')
    """
    out = []
    for row in edited.to_dict(orient="records"):
        decision = row.get(DECISION)
        if decision not in DECISIONS:
            continue
        item: dict[str, Any] = {"id": int(row["id"]), "decision": decision}
        if decision == RELABEL:
            text = row.get(NEW_LABEL)
            if not isinstance(text, str) or not text.strip():
                raise ReviewError(
                    f"row id {item['id']}: a relabel needs the new label (type it in {NEW_LABEL!r})"
                )
            item["label"] = parse_label(text)
        note = row.get(NOTE)
        if isinstance(note, str) and note.strip():
            item["note"] = note.strip()
        out.append(item)
    return out


def _summary(shown: pd.DataFrame, current: pd.DataFrame) -> None:
    decided = current.reindex(shown["id"].to_numpy())["decision"]
    counts = decided.value_counts()
    parts = [f"{counts.get('accept', 0):,} accepted", f"{counts.get('reject', 0):,} rejected",
             f"{counts.get('relabel', 0):,} relabelled",
             f"{int(decided.isna().sum()):,} not reviewed"]  # fmt: skip
    st.caption(f"Of the {len(shown):,} rows shown: " + ", ".join(parts) + ".")


def _save(root: Path, decisions: list[dict[str, Any]], reviewer: str) -> None:
    """Append the decisions; on success redraw with them, else say what was wrong."""
    if not decisions:
        st.warning("No decision chosen: pick accept, reject or relabel in the decision column.")
        return
    who = reviewer.strip() or default_reviewer()
    try:
        write_reviews(root, decisions, reviewer=who)
    except (CurateError, OSError) as exc:
        st.error(f"Nothing was saved: {exc}")
        return
    st.session_state[_FLASH] = f"Saved {len(decisions):,} decision(s) as {who}."
    st.session_state[_GEN] = st.session_state.get(_GEN, 0) + 1  # a fresh, empty editor
    st.rerun()


def _editor(root: Path, frame: pd.DataFrame, reviewer: str) -> None:
    config = {
        DECISION: st.column_config.SelectboxColumn(
            DECISION, options=list(DECISIONS), help="accept, reject or relabel; blank: no change"
        ),
        NEW_LABEL: st.column_config.TextColumn(
            NEW_LABEL, help="the row's new label (a relabel only; JSON values such as 1 are read)"
        ),
        NOTE: st.column_config.TextColumn(NOTE, help="optional, kept with the decision"),
        AT: st.column_config.DatetimeColumn(AT, format=ui.TABLE_TIME, timezone="UTC"),
    }
    editable = {DECISION, NEW_LABEL, NOTE}
    with st.form("review_form", border=False):
        edited = st.data_editor(
            frame,
            column_config=config,
            disabled=[c for c in frame.columns if c not in editable],
            hide_index=True,
            width="stretch",
            key=f"review_editor_{st.session_state.get(_GEN, 0)}",
        )
        submitted = st.form_submit_button("Save decisions", icon=":material/save:")
    if submitted:
        try:
            decisions = decisions_from_editor(edited)
        except ReviewError as exc:
            st.error(f"Nothing was saved: {exc}")
            return
        _save(root, decisions, reviewer)


def _groups(root: Path, shown: pd.DataFrame, groups: pd.Series, reviewer: str | None) -> None:
    """Decision counts per group and, when review is on, one decision for a whole group."""
    by_row = groups.reindex(shown.index)
    current = current_reviews(root)
    decided = current.reindex(shown["id"].to_numpy())["decision"].fillna("not reviewed")
    table = pd.crosstab(by_row.to_numpy(), decided.to_numpy()).rename_axis("group").reset_index()
    st.markdown("**Per group**")
    ui.table(table)
    if reviewer is None:  # review is off
        return
    sizes = by_row.value_counts()
    left, mid, right = st.columns([2, 1, 1], vertical_alignment="bottom")
    group = left.selectbox(
        "Group", list(sizes.index), format_func=lambda g: f"{g} ({sizes[g]:,} rows)"
    )
    decision = mid.segmented_control("For every row", ["accept", "reject"], default="accept")
    if right.button("Save for the group", icon=":material/done_all:") and decision:
        ids = shown.loc[by_row == group, "id"].astype(int).tolist()
        _save(root, [{"id": i, "decision": decision} for i in ids], reviewer)


def render_review(root: Path, shown: pd.DataFrame, groups: pd.Series | None = None) -> None:
    """Draw the Review section for the rows ``shown`` (``groups``: a group id per row, aligned
    on ``shown``'s index, for decisions per group)."""
    st.subheader("Review")
    if "id" not in shown.columns or shown.empty:
        ui.empty("No rows to review: the filters above match none.")
        return
    if _FLASH in st.session_state:
        st.success(st.session_state.pop(_FLASH), icon=":material/check:")
    allowed = ui.can_review()
    current = current_reviews(root)
    _summary(shown, current)
    frame = review_frame(shown.head(EDIT_ROWS), current, _shown_columns(root, shown))
    reviewer = None
    if allowed:
        reviewer = st.text_input("Reviewer", value=default_reviewer(), key="review_reviewer")
        _editor(root, frame, reviewer)
    else:
        st.info(ENABLE, icon=":material/lock:")
        ui.table(frame.drop(columns=[DECISION, NEW_LABEL, NOTE]))
    if len(shown) > EDIT_ROWS:
        st.caption(f"Reviewing the first {EDIT_ROWS:,} of {len(shown):,} rows; narrow the filters.")
    if groups is not None:
        _groups(root, shown, groups, reviewer)
