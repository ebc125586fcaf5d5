"""Every user-facing text, in Korean and English."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chatbot.language import is_korean

KO, EN = "ko", "en"

_TEXTS: dict[str, tuple[str, str]] = {
    "app_title": ("서연 · Bedrock 챗봇", "Seoyeon · Bedrock chatbot"),
    "chat_page": ("채팅", "Chat"),
    "mode": ("모드", "Mode"),
    "model": ("모델", "Model"),
    "models": ("Bedrock 모델 목록", "Bedrock models"),
    "list_models": ("이 리전의 Claude 모델 보기", "Show the Claude models of this region"),
    "new_chat": ("새 대화", "New chat"),
    "new_chat_help": (
        "새 대화를 시작합니다. 지금 대화는 목록에 남습니다.",
        "Starts a new conversation. This one stays in the list.",
    ),
    "conversations_today": ("오늘", "Today"),
    "conversations_yesterday": ("어제", "Yesterday"),
    "conversations_week": ("지난 7일", "Previous 7 days"),
    "conversations_older": ("이전", "Older"),
    "conversations_more": ("이전 대화 더 보기", "Show older conversations"),
    "conversations_unavailable": (
        "대화 목록을 불러오지 못했습니다 ({code}).",
        "The conversation list could not be loaded ({code}).",
    ),
    "untitled": ("(제목 없음)", "(untitled)"),
    "document_follow_ups_cut": (
        "이 대화의 후속 질문에는 파일의 앞부분 {chars:,}자만 쓰입니다.",
        "Follow-up questions in this conversation use the file's first {chars:,} characters.",
    ),
    "search": ("내 대화 검색", "Search my conversations"),
    "search_hint": ("질문이나 답변의 낱말", "A word of a question or an answer"),
    "search_none": ("찾는 말이 든 대화가 없습니다.", "No conversation holds these words."),
    "search_failed": ("검색하지 못했습니다 ({code}).", "The search failed ({code})."),
    "search_bounded": (
        "최근 대화 {count:,}건에서 찾았습니다.",
        "Searched your newest {count:,} dialogs.",
    ),
    "conversation_manage": ("이 대화", "This conversation"),
    "conversation_title": ("새 제목", "New title"),
    "rename": ("이름 바꾸기", "Rename"),
    "renamed": ("대화 이름을 바꿨습니다.", "Conversation renamed."),
    "rename_not_yet": (
        "이 대화가 아직 저장되는 중입니다. 잠시 후 다시 해 주세요.",
        "This conversation is still being saved. Try again in a moment.",
    ),
    "rename_failed": ("이름을 바꾸지 못했습니다: {detail}", "Could not rename: {detail}"),
    "conversation_markdown": ("Markdown으로 내보내기", "Export as Markdown"),
    "conversation_json": ("JSON으로 내보내기", "Export as JSON"),
    "conversation_delete": ("이 대화 삭제", "Delete this conversation"),
    "conversation_delete_title": ("이 대화를 삭제할까요?", "Delete this conversation?"),
    "conversation_delete_confirm": (
        "이 대화의 모든 질문과 답변이 영구히 삭제됩니다.",
        "Every question and answer of this conversation will be deleted for good.",
    ),
    "memory_caption": (
        "대화 기억: 최근 {k}회의 대화 ({used}회 사용 중)",
        "Memory: the last {k} exchanges ({used} in use)",
    ),
    "mode_no_memory": (
        "이 모드는 대화 기억을 쓰지 않고, 대화 기억에 남지도 않습니다.",
        "This mode neither reads nor feeds the conversation memory.",
    ),
    "input_placeholder": (
        "메시지를 입력하거나 파일(PDF, TXT, CSV, DOCX)을 첨부하세요",
        "Type a message or attach a file (PDF, TXT, CSV, DOCX)",
    ),
    "typing": ("서연이 답변을 작성하고 있어요…", "Seoyeon is typing…"),
    "reopened": (
        "최근 {days}일 안에 나눈 마지막 대화를 다시 열었습니다 ({count}건).",
        "Your latest conversation of the past {days} days is open again; dialogs: {count}.",
    ),
    "usage": (
        "입력 {input} · 출력 {output} 토큰 · 첫 토큰 {ttft} ms · 전체 {latency} ms",
        "{input} in · {output} out tokens · first token {ttft} ms · total {latency} ms",
    ),
    "usage_cost": ("비용 ${usd:.4f}", "cost ${usd:.4f}"),
    "usage_cost_krw": ("비용 ${usd:.4f} (약 {krw:,.0f}원)", "cost ${usd:.4f} (₩{krw:,.0f})"),
    "usage_cache": (
        "입력 중 캐시에서 읽음 {read} · 캐시에 씀 {write}",
        "of the input, {read} read from the cache · {write} written to it",
    ),
    "stopped": ("답변을 중단했습니다.", "You stopped the answer."),
    "cut": (
        "답변이 출력 한도에 닿아 여기서 끊겼습니다.",
        "The answer reached the output limit and was cut here.",
    ),
    "continue": ("이어서 답변", "Continue"),
    "copy_label": ("📋 복사", "📋 Copy"),
    "copy_copied": ("✅ 복사했습니다", "✅ Copied"),
    "copy_failed": ("복사하지 못했습니다", "Could not copy"),
    "why_down": ("어떤 점이 아쉬웠나요? (선택)", "What went wrong? (optional)"),
    "why_down_reason": ("이유", "Reason"),
    "why_down_comment": ("의견", "Comment"),
    "why_down_send": ("의견 보내기", "Send feedback"),
    "why_down_thanks": ("의견 고맙습니다.", "Thank you for the feedback."),
    "reason_inaccurate": ("사실과 다름", "Inaccurate"),
    "reason_unhelpful": ("도움이 안 됨", "Not helpful"),
    "reason_too_long": ("너무 김", "Too long"),
    "reason_wrong_language": ("언어가 맞지 않음", "Wrong language"),
    "reason_unsafe": ("부적절함", "Inappropriate"),
    "reason_other": ("기타", "Other"),
    "regenerate": ("다시 답변", "Regenerate"),
    "edit": ("질문 고치기", "Edit"),
    "edit_question": ("고친 질문", "Your question"),
    "edit_send": ("보내기", "Send"),
    "no_answer": (
        "이 질문에는 답변을 받지 못했습니다.",
        "No answer was received for this question.",
    ),
    "retry": ("다시 시도", "Retry"),
    "save_lost": (
        "이 대화를 기록에 저장하지 못했습니다. 화면의 답변은 그대로 남아 있습니다.",
        "This dialog could not be saved to history. The answer above stays on screen.",
    ),
    "save_rejected": (
        "기록 저장소가 이 대화를 받아들이지 않아 저장하지 못했습니다. 화면의 답변은 그대로 "
        "남아 있고, 대화는 서버의 대기열 파일에 따로 보관되었습니다.",
        "The history store refused this dialog, so it was not saved. The answer above stays "
        "on screen, and the dialog is kept aside in the server's outbox file.",
    ),
    "save_trimmed": (
        "이 대화는 기록 한 건의 최대 크기(약 400KB)를 넘어 끝부분 {chars:,}자를 잘라 "
        "저장했습니다. 화면에는 전체가 표시됩니다.",
        "This dialog is larger than one history record can hold (about 400 KB): it was "
        "stored with its last {chars:,} characters cut. The whole text is shown here.",
    ),
    "rejected_saves": (
        "기록 저장소가 대화 {count}건을 받아들이지 않아 저장하지 못했습니다. 해당 대화는 서버의 "
        "대기열 파일에 따로 보관되어 있으니 관리자에게 문의하세요.",
        "The history store refused {count} of your dialogs, so they were not saved. They are "
        "kept aside in the server's outbox file: ask the administrator.",
    ),
    "outbox_damaged": (
        "저장 대기열 파일이 손상되어 옆으로 옮기고 새 파일로 시작했습니다. 채팅은 계속 "
        "사용할 수 있습니다. 관리자에게 알려 주세요.",
        "The outbox file was damaged: it was moved aside and a new one started. The chat "
        "keeps working; please tell the administrator.",
    ),
    "outbox_unavailable": (
        "저장 대기열 파일을 쓸 수 없어 대화를 저장소에 바로 기록합니다. 저장소가 멈추면 그동안의 "
        "대화는 저장되지 않을 수 있습니다. 관리자에게 알려 주세요.",
        "The outbox file cannot be written, so dialogs go straight to the history store; "
        "while the store is down they may not be saved. Please tell the administrator.",
    ),
    "save_queued": (
        "기록 저장소에 지금 쓸 수 없어 이 대화를 대기열에 두었습니다. 저장소가 돌아오면 자동으로 "
        "저장됩니다.",
        "The history store is not taking writes right now: this dialog is queued and will be "
        "saved automatically when the store is back.",
    ),
    "pending_saves": (
        "저장 대기 중인 대화: {count}건",
        "Dialogs waiting to be saved: {count}",
    ),
    "history_unavailable": (
        "저장된 대화를 불러오지 못했습니다. 빈 대화로 시작합니다.",
        "Stored dialogs could not be loaded. Starting with an empty chat.",
    ),
    "input_too_long": (
        "입력이 너무 깁니다 ({length:,}자). 한 번에 {limit:,}자까지 보낼 수 있습니다.",
        "The input is too long ({length:,} characters); the limit is {limit:,}.",
    ),
    "local_banner": (
        "로컬 모드: 로그인이 없습니다. 이 페이지를 열 수 있는 사람은 누구나 아무 사용자 ID를 "
        "입력해 그 사람의 대화를 볼 수 있습니다. 혼자 쓰는 컴퓨터에서만 사용하세요.",
        "Local mode: there is no sign-in. Anyone who can open this page can type any user id "
        "and see that user's dialogs. Use it only on your own machine.",
    ),
    "local_mode_forbidden": (
        "이 배포는 로그인이 필요하지만(ALLOW_LOCAL_MODE = false) 로그인 설정이 없습니다. "
        "시크릿에 [auth] 섹션을 추가하세요.",
        "This deployment requires sign-in (ALLOW_LOCAL_MODE = false), but sign-in is not "
        "configured. Add an [auth] section to the secrets.",
    ),
    "local_mode_cloud": (
        "Streamlit Community Cloud에서는 로그인이 필요하지만 로그인 설정이 없습니다. 시크릿에 "
        "[auth] 섹션을 추가하세요. 로그인 없이 실행하려면 ALLOW_LOCAL_MODE = true 로 "
        "설정하세요. 그러면 링크를 아는 누구나 모든 사용자의 대화를 볼 수 있습니다.",
        "On Streamlit Community Cloud this app requires sign-in, but sign-in is not configured. "
        "Add an [auth] section to the secrets. To run without sign-in, set "
        "ALLOW_LOCAL_MODE = true; anyone with the link can then read every user's dialogs.",
    ),
    "sign_in_prompt": (
        "대화 기록을 안전하게 보관하려면 로그인하세요.",
        "Sign in so that your dialogs are kept safe and only yours.",
    ),
    "sign_in": ("로그인", "Sign in"),
    "sign_in_with": ("{provider}(으)로 로그인", "Sign in with {provider}"),
    "sign_in_no_identity": (
        "로그인한 계정에 인증된 이메일도, 발급자와 식별자(iss, sub)도 없어 사용할 수 없습니다.",
        "The signed-in account has neither a verified e-mail nor an issuer and subject "
        "(iss, sub), so it cannot be used.",
    ),
    "sign_out": ("로그아웃", "Sign out"),
    "signed_in_as": ("로그인: {user}", "Signed in as {user}"),
    "user_id": ("사용자 ID", "User id"),
    "user_id_help": (
        "영문, 숫자, 한글, . _ @ - 로 1~64자",
        "1-64 characters: letters, digits, Hangul, . _ @ -",
    ),
    "user_id_prompt": (
        "시작하려면 사이드바에 사용자 ID를 입력하세요.",
        "Enter a user id in the sidebar to start.",
    ),
    "user_id_invalid": (
        "사용자 ID는 영문, 숫자, 한글, . _ @ - 로 된 1~64자여야 합니다.",
        "A user id is 1-64 characters of letters, digits, Hangul, . _ @ -.",
    ),
    "cloud_sqlite_warning": (
        "Streamlit Community Cloud에서 SQLite에 기록하고 있습니다. 앱이 재시작되면 기록이 "
        "사라집니다. 보존하려면 CHAT_HISTORY_TABLE에 DynamoDB 테이블을 설정하세요.",
        "Running on Streamlit Community Cloud with SQLite: history is lost when the app "
        "restarts. Set CHAT_HISTORY_TABLE to a DynamoDB table to keep it.",
    ),
    "config_error": ("설정 오류: {detail}", "Configuration error: {detail}"),
    "document_truncated": (
        "파일이 길어 앞부분 {chars:,}자만 요약했습니다.",
        "The file is long: only its first {chars:,} characters were summarised.",
    ),
    "document_page_limit": (
        "PDF가 길어 앞 {pages}쪽만 읽고, 그 {chars:,}자를 요약했습니다.",
        "The PDF is long: only its first {pages} pages ({chars:,} characters) were summarised.",
    ),
    "document_time_limit": (
        "파일이 크거나 복잡해 읽는 데 너무 오래 걸려, 그때까지 읽은 앞부분 {chars:,}자만 "
        "요약했습니다.",
        "The file takes too long to read (it is large or complex): only the first "
        "{chars:,} characters read in time were summarised.",
    ),
    "document_unsupported": (
        "지원하지 않는 파일 형식입니다. PDF, TXT, MD, CSV, DOCX 파일을 올려 주세요.",
        "This file type is not supported. Upload a PDF, TXT, MD, CSV or DOCX file.",
    ),
    "document_too_large": (
        "파일이 너무 큽니다. {limit_mb}MB 이하의 파일을 올려 주세요.",
        "The file is too large. Upload a file of at most {limit_mb} MB.",
    ),
    "document_empty": (
        "파일에서 글자를 찾지 못했습니다. 스캔한 PDF라면 텍스트가 있는 파일로 올려 주세요.",
        "No text was found in the file. If it is a scanned PDF, upload one with text.",
    ),
    "document_unreadable": (
        "파일을 읽을 수 없습니다. 손상되었거나 형식이 맞지 않습니다.",
        "The file cannot be read: it is damaged or not what its extension says.",
    ),
    "document_too_complex": (
        "파일이 너무 복잡해 제한 시간 안에 글자를 읽지 못했습니다. 텍스트 위주의 더 단순한 "
        "파일(예: TXT)로 저장해 올려 주세요.",
        "The file is too complex: no text could be read from it in the time allowed. Save "
        "it as a simpler file (e.g. TXT) and upload that.",
    ),
    "delete_history": ("내 기록 삭제", "Delete my history"),
    "delete_confirm_title": ("기록을 모두 삭제할까요?", "Delete all your history?"),
    "delete_confirm": (
        "{user}의 저장된 대화를 모두 삭제합니다. 되돌릴 수 없습니다.",
        "This deletes every stored dialog of {user}. It cannot be undone.",
    ),
    "delete_yes": ("삭제", "Delete"),
    "cancel": ("취소", "Cancel"),
    "deleted": ("저장된 대화 {count:,}건을 삭제했습니다.", "Deleted {count:,} stored dialogs."),
    "delete_failed": (
        "기록을 삭제하지 못했습니다: {detail}",
        "The history could not be deleted: {detail}",
    ),
    "history_page": ("대화 기록", "History"),
    "history_title": ("사용자 대화 기록", "Users' dialogs"),
    "date_range": ("기간", "Date range"),
    "report_timezone": (
        "날짜는 보고 시간대({report}) 기준입니다. 표의 시각은 내 시간대({viewer})로 표시합니다.",
        "Days are in the reporting time zone ({report}); the table's times are in yours "
        "({viewer}).",
    ),
    "filter_user": ("사용자 ID (비우면 전체)", "User id (empty: everyone)"),
    "filter_modes": ("모드", "Modes"),
    "filter_models": ("모델", "Models"),
    "filter_statuses": ("상태", "Statuses"),
    "filter_types": ("유형", "Types"),
    "filter_feedbacks": ("평가", "Feedback"),
    "filter_none": ("(없음)", "(none)"),
    "filter_text": ("질문·답변 검색", "Search questions and answers"),
    "filter_text_table_only": (
        "검색어는 표와 내보내기만 좁힙니다. 합계와 차트는 검색어 없이 위 필터로 셉니다.",
        "The search narrows the table and the export only; the totals and charts count every "
        "dialog of the other filters.",
    ),
    "read_stats": (
        "{at}에 저장소에서 {items:,}개 항목을 읽었습니다 ({seconds:.2f}초).",
        "Read {items:,} items from the store in {seconds:.2f} s at {at}.",
    ),
    "refresh": ("새로 읽기", "Refresh"),
    "history_empty": (
        "이 조건에 맞는 대화가 없습니다. 기간이나 필터를 바꿔 보세요.",
        "No dialogs match. Try another date range or fewer filters.",
    ),
    "history_failed": (
        "기록을 읽지 못했습니다: {detail}",
        "The history could not be read: {detail}",
    ),
    "usage_tokens": ("토큰 {input:,} / {output:,}", "{input:,} / {output:,} tokens"),
    "money": ("${usd:,.2f}", "${usd:,.2f}"),
    "money_krw": ("${usd:,.2f} (약 {krw:,.0f}원)", "${usd:,.2f} (₩{krw:,.0f})"),
    "metric_dialogs": ("대화", "Dialogs"),
    "metric_cost": ("비용", "Cost"),
    "metric_tokens": ("토큰 (입력/출력)", "Tokens (in/out)"),
    "metric_down_rate": ("👎 비율", "👎 rate"),
    "metric_error_rate": ("오류 비율", "Error rate"),
    "metric_ttft": ("첫 토큰 중앙값", "Median first token"),
    "tab_table": ("표", "Table"),
    "tab_cost": ("비용", "Cost"),
    "tab_users": ("사용자", "Users"),
    "tab_models": ("모델·모드", "Models & modes"),
    "tab_quality": ("품질", "Quality"),
    "metric_cost_per_1000": ("대화 1,000건당 비용", "Cost per 1,000 dialogs"),
    "chart_cost_per_day": ("일별 비용 (모델별, $)", "Cost per day, by model ($)"),
    "chart_cost_per_day_note": (
        "각 답변의 입력·출력·캐시 토큰에 그 모델의 가격을 곱한 값입니다.",
        "Each answer's input, output and cache tokens at its model's prices.",
    ),
    "chart_cost_per_model": ("모델별 비용", "Cost per model"),
    "chart_cost_per_mode": ("모드별 비용", "Cost per mode"),
    "chart_users": ("사용자별", "Per user"),
    "chart_users_note": (
        "비용이 큰 순서입니다. 행을 선택하면 그 사용자의 대화를 표에서 엽니다.",
        "Costliest first. Select a row to open that user's dialogs in the table.",
    ),
    "chart_per_day": ("일별 대화 수 (모드별)", "Dialogs per day, by mode"),
    "chart_per_day_note": (
        "보고 시간대의 하루마다 센 대화 수입니다.",
        "Dialogs counted per day of the reporting time zone.",
    ),
    "chart_per_model": ("모델별", "Per model"),
    "chart_per_mode": ("모드별", "Per mode"),
    "chart_breakdown_note": (
        "👎 비율은 평가된 답변 중 👎의 비율, 오류 비율은 실패하거나 끊긴 호출의 비율, "
        "캐시 적중률은 입력 토큰 중 캐시에서 읽은 비율입니다.",
        "👎 rate: of the rated answers, those rated 👎; error rate: calls that failed or broke "
        "off; cache hit rate: the share of input tokens read from the prompt cache.",
    ),
    "chart_nothing": ("이 기간에는 그릴 값이 없습니다.", "Nothing to draw in this range."),
    "chart_stops": ("모드별 중지", "Stops per mode"),
    "chart_stops_note": (
        "사용자가 중지한 답변의 비율과, 중지된 답변의 길이 중앙값을 끝까지 간 답변의 길이 "
        "중앙값과 비교한 위치입니다.",
        "How often users stopped an answer, and how far in: the median length of stopped "
        "answers against that of complete ones.",
    ),
    "chart_cuts": ("일별 잘린 답변", "Cut answers per day"),
    "chart_cuts_note": (
        "출력 한도(CHAT_MAX_OUTPUT_TOKENS)에 닿아 잘린 답변입니다.",
        "Answers that reached the output limit (CHAT_MAX_OUTPUT_TOKENS).",
    ),
    "chart_errors": ("종류별 오류", "Errors by kind"),
    "chart_errors_note": (
        "실패하거나 도중에 끊긴 호출을 원인별로 셉니다.",
        "Calls that failed or broke off, by cause.",
    ),
    "chart_feedback": ("일별 👎 비율", "👎 rate per day"),
    "chart_feedback_note": (
        "그날 평가된 답변 중 👎를 받은 비율입니다.",
        "Of the day's rated answers, the share rated 👎.",
    ),
    "chart_down_reasons": ("👎 이유", "👎 reasons"),
    "chart_down_reasons_note": (
        "사용자가 👎와 함께 고른 이유입니다.",
        "The reasons users gave with a 👎.",
    ),
    "down_reason_unspecified": ("이유 없음", "No reason given"),
    "chart_ttft": ("모델별 첫 토큰 시간 (ms)", "Time to first token per model (ms)"),
    "chart_ttft_note": (
        "질문을 보낸 뒤 첫 글자가 올 때까지의 시간, 일별 중앙값(p50)과 p90입니다 (±2%).",
        "From the question to the first text, per day: median (p50) and p90 (within 2%).",
    ),
    "chart_cache_hits": ("일별 프롬프트 캐시 적중률", "Prompt cache hit rate per day"),
    "chart_cache_hits_note": (
        "입력 토큰 중 캐시에서 읽은 비율과, 캐시에서 읽은 답변의 비율입니다.",
        "The share of input tokens read from the prompt cache, and of answers that read any.",
    ),
    "chart_tokens_per_chars": (
        "답변 1,000자당 출력 토큰",
        "Output tokens per 1,000 answer characters",
    ),
    "chart_tokens_per_chars_note": (
        "같은 길이의 답변에 드는 토큰 수를 한국어와 영어로 비교합니다.",
        "How many tokens an answer of the same length takes, in Korean and in English.",
    ),
    "korean_premium": (
        "글자당 출력 토큰은 한국어 답변이 영어 답변보다 {premium:+.0%} 많습니다(음수면 적음).",
        "Per character, Korean answers take {premium:+.0%} output tokens against English ones.",
    ),
    "rows_of": ("{count:,}건 중 {first:,}–{last:,}번째", "Rows {first:,}–{last:,} of {count:,}"),
    "rows_searched": (
        "검색 결과 {count}건 중 {first:,}–{last:,}번째",
        "Rows {first:,}–{last:,} of {count} matches",
    ),
    "page_previous": ("이전", "Previous"),
    "page_next": ("다음", "Next"),
    "select_hint": (
        "행을 선택하면 그 대화 전체를 볼 수 있습니다.",
        "Select a row to read its whole conversation.",
    ),
    "conversation_heading": ("{user}의 대화", "Conversation of {user}"),
    "conversation_gone": (
        "이 대화는 더 이상 저장소에 없습니다.",
        "This conversation is no longer in the store.",
    ),
    "selected_dialog": ("👉 선택한 대화", "👉 The selected dialog"),
    "replaced_dialog": (
        "{time} · 다시 생성되거나 수정되어 대체된 답변",
        "{time} · replaced (regenerated or edited)",
    ),
    "export_mask": (
        "개인정보 가리기 (이메일, 전화번호, 주민등록번호, 카드번호)",
        "Mask personal data (e-mails, phone, resident registration and card numbers)",
    ),
    "export_csv": ("CSV 내보내기", "Export CSV"),
    "export_json": ("JSON 내보내기", "Export JSON"),
    "export_cut": (
        "내보내기에는 {count:,}건 중 최근 {rows:,}건만 담깁니다.",
        "Exports hold the newest {rows:,} of the {count:,} dialogs.",
    ),
    "export_bounded": (
        "내보내기에는 검색 결과 중 최근 {rows:,}건까지만 담깁니다.",
        "Exports hold at most the newest {rows:,} matches.",
    ),
    "col_time": ("시각", "Time"),
    "col_user": ("사용자", "User"),
    "col_mode": ("모드", "Mode"),
    "col_status": ("상태", "Status"),
    "col_type": ("유형", "Type"),
    "col_question": ("질문", "Question"),
    "col_answer": ("답변", "Answer"),
    "col_model": ("모델", "Model"),
    "col_input_tokens": ("입력 토큰", "Input tokens"),
    "col_output_tokens": ("출력 토큰", "Output tokens"),
    "col_cost": ("비용 ($)", "Cost ($)"),
    "col_ttft": ("첫 토큰 (ms)", "First token (ms)"),
    "col_latency": ("전체 (ms)", "Total (ms)"),
    "col_feedback": ("평가", "Feedback"),
    "col_day": ("날짜", "Day"),
    "col_dialogs": ("대화", "Dialogs"),
    "col_conversations": ("대화방", "Conversations"),
    "col_tokens": ("토큰", "Tokens"),
    "col_krw": ("비용 (원)", "Cost (₩)"),
    "col_cut": ("잘린 답변", "Cut"),
    "col_ttft_p50": ("첫 토큰 p50 (ms)", "First token p50 (ms)"),
    "col_ttft_p90": ("첫 토큰 p90 (ms)", "First token p90 (ms)"),
    "col_median_stop_chars": ("중지된 답변 길이 중앙값", "Median stopped length"),
    "col_median_complete_chars": ("완료된 답변 길이 중앙값", "Median complete length"),
    "col_down_rate": ("👎 비율", "👎 rate"),
    "col_error_rate": ("오류 비율", "Error rate"),
    "col_stop_rate": ("중지 비율", "Stop rate"),
    "col_cache_hit_rate": ("캐시 적중률", "Cache hit rate"),
    "col_stop_position": ("중지 위치", "Stop position"),
    "col_ko": ("한국어", "Korean"),
    "col_en": ("영어", "English"),
    "col_ko_vs_en": ("한국어 ÷ 영어", "Korean ÷ English"),
    "col_last_active": ("마지막 사용일", "Last active"),
    "col_reason": ("👎 이유", "👎 reason"),
    "col_error_kind": ("오류 종류", "Error kind"),
    # One per chatbot.errors.Problem.
    "no_credentials": (
        "AWS 자격 증명을 찾지 못했습니다. `aws configure`나 AWS_PROFILE로 설정하거나, "
        "Community Cloud라면 앱의 secrets에 AWS_ACCESS_KEY_ID와 AWS_SECRET_ACCESS_KEY를 넣어 "
        "주세요.",
        "No AWS credentials were found. Set them with `aws configure` or AWS_PROFILE, or on "
        "Community Cloud put AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the app's secrets.",
    ),
    "expired_credentials": (
        "AWS 자격 증명이 만료되었거나 올바르지 않습니다({code}). 자격 증명을 새로 받은 뒤"
        "(예: `aws sso login`) 다시 시도해 주세요.",
        "The AWS credentials are expired or invalid ({code}). Refresh them (for example "
        "`aws sso login`) and try again.",
    ),
    "no_region": (
        "AWS 리전이 설정되지 않았습니다. BEDROCK_REGION, AWS_REGION 또는 AWS_DEFAULT_REGION을 "
        "설정하거나 AWS 프로필에 region을 지정해 주세요.",
        "No AWS region is set. Set BEDROCK_REGION, AWS_REGION or AWS_DEFAULT_REGION, or a "
        "region in the AWS profile.",
    ),
    "wrong_region": (
        "리전 {region}에서 Bedrock을 찾을 수 없습니다. BEDROCK_REGION이 Bedrock을 제공하는 "
        "리전(예: us-east-1, ap-northeast-2)인지 확인해 주세요.",
        "Bedrock was not found in region {region}. Check that BEDROCK_REGION names a region "
        "that offers Bedrock (for example us-east-1 or ap-northeast-2).",
    ),
    "model_not_enabled": (
        "모델 {model}의 사용이 이 계정에서 활성화되지 않았습니다. Bedrock 콘솔의 '모델 액세스'에서 "
        "리전 {region}에 대해 이 모델을 활성화해 주세요.",
        "Model {model} is not enabled for this account. Enable it under 'Model access' in the "
        "Bedrock console for region {region}.",
    ),
    "access_denied": (
        "모델 {model}을(를) 호출할 권한이 없습니다. Bedrock 콘솔에서 이 모델의 액세스를 "
        "활성화했는지, IAM 정책이 bedrock:InvokeModelWithResponseStream을 허용하는지 확인해 "
        "주세요.",
        "You are not allowed to call {model}. Check that model access is enabled in the "
        "Bedrock console and that your IAM policy allows bedrock:InvokeModelWithResponseStream.",
    ),
    "model_not_found": (
        "모델 {model}을(를) 리전 {region}에서 찾을 수 없습니다. 모델 ID와 BEDROCK_REGION을 "
        "확인해 주세요.",
        "Model {model} was not found in region {region}. Check the model id and BEDROCK_REGION.",
    ),
    "model_invalid": (
        "Bedrock이 요청을 거부했습니다({code}). 모델 {model}이(가) 리전 {region}에서 지원되는지, "
        "추론 프로필 ID(예: global. 또는 us. 로 시작)가 필요한지 확인해 주세요.",
        "Bedrock rejected the request ({code}). Check that {model} is offered in region "
        "{region} and whether it needs an inference profile id (starting with global. or us.).",
    ),
    "throttled": (
        "요청이 많아 Bedrock이 잠시 호출을 제한했습니다. 잠시 후 다시 시도해 주세요.",
        "Bedrock is throttling requests right now. Please try again in a moment.",
    ),
    "unavailable": (
        "Bedrock이 일시적으로 응답하지 못했습니다({code}). 잠시 후 다시 시도해 주세요.",
        "Bedrock could not answer right now ({code}). Please try again in a moment.",
    ),
    "unreachable": (
        "Bedrock({region})에 연결할 수 없습니다. 네트워크와 리전 설정을 확인해 주세요.",
        "Bedrock ({region}) cannot be reached. Check the network and the region.",
    ),
    "stream_failed": (
        "답변을 받는 도중 연결이 끊겼습니다. 받은 부분까지만 표시했습니다.",
        "The connection broke while the answer was streaming; what arrived is shown.",
    ),
    "unexpected": (
        "예상하지 못한 오류가 발생했습니다({code}). 잠시 후 다시 시도해 주세요.",
        "Something unexpected went wrong ({code}). Please try again in a moment.",
    ),
}


def t(key: str, lang: str, **values: object) -> str:
    """The text ``key`` in ``lang`` ("ko" or "en"), with ``values`` filled in."""
    ko, en = _TEXTS[key]
    return (ko if lang == KO else en).format(**values)


def ui_language(locale: str | None) -> str:
    """Korean for a Korean browser, English otherwise."""
    return KO if (locale or "").lower().startswith("ko") else EN


def time_zone(name: str | None) -> str:
    """The browser's IANA time zone if this machine knows it, else UTC."""
    try:
        return ZoneInfo(name or "UTC").key
    except (ZoneInfoNotFoundError, ValueError):
        return "UTC"


def language_of(text: str, fallback: str) -> str:
    """The language to answer a user's input in: Korean if enough of its letters are
    Hangul (``is_korean``), else ``fallback`` (also for input without letters)."""
    return KO if is_korean(text) else fallback
