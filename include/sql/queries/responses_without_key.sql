-- Landed responses without their integer key (landed before migration 016, or written by
-- hand): bsin.pipeline.extract fills it in before comparing.
select form_id,
       response_id
from raw_response
where response_key is null
